"""jobstream.worker"""
