"""Collections and their JSON documents."""
