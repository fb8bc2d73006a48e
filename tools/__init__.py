"""Developer and CI tools that are not part of the mesos-py package."""
