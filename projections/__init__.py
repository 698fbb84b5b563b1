"""jobstream.projections"""
