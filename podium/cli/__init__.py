"""podium's command line: thin click commands over the engine facade."""
