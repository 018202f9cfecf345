"""The FUSE front end: pyfuse3 `Operations` over the node tree, its inode table, file
contents (disk cache and snapshots), attribute timeouts and the mount runner."""
