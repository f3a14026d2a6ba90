"""Delivery configuration: SSH keys, GitHub repositories, web servers, deployments."""
