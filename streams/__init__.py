"""jobstream.streams"""
