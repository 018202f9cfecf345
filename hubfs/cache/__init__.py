"""Local state kept by the daemon: metadata TTL caches (`listings`) and the disk content
cache of rendered files (`content`). The write spool and its journal join them here."""
