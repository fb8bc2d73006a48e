"""What the built-in frameworks share: a scheduler driver that follows the leading
master, leader election among a framework's instances, and a ZooKeeper state store.

The frameworks are clients of the public v1 API like any third-party framework:
nothing here imports master or agent internals.
"""
