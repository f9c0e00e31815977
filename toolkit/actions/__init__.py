"""One module per command: observe, plan, then show or apply."""
