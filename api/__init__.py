"""jobstream.api"""
