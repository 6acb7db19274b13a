"""Melody conditioning: hums and MIDI clips become one note list, then melody tokens."""
