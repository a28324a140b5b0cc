"""rongtai"""
