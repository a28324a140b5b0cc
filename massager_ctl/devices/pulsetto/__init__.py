"""pulsetto"""
