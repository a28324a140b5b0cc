"""theragun"""
