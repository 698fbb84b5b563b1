"""jobstream.core"""
