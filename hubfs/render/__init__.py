"""The shared render path: rendered files stream into the disk cache and are read while
they render.

A backend's rendered file (`hubfs.tree.File.render`) yields chunks; `streaming` pulls
them in worker threads and appends them to a cache entry on disk, and `progress` tells
readers how far that file is written, so a reader's first bytes are served as soon as
the first chunk is on disk, while only what needs the exact size (a `stat`) waits for the
end; `walk_prefetch` renders the files of the next directories ahead of a tree walk,
each directory's files in one worker thread (`directory`), small ones kept in memory.
Nothing here knows FUSE: `hubfs.fuse.content` decides which files go this way.
"""
