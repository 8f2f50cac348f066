"""Crafted traffic: scripted flows, the pcap writer, the large synthetic capture, hostile documents."""
