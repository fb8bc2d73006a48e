"""mesos-py: a Python re-creation of Apache Mesos on Twisted."""

__version__ = "0.1.0"

# The Mesos release whose v1 HTTP API we speak; clients such as pymesos parse
# it as dotted integers, so it must never carry a suffix.
MESOS_API_VERSION = "1.11.0"
