"""jobstream.infra"""
