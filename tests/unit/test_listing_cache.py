"""The listing cache stays truthful under pressure and lives as long as nodes say."""

from hubfs.cache.listings import IMMUTABLE_TTL, LISTING_TTL, ListingCache, ttl_for
from hubfs.tree import Dir, File


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def nodes(prefix, count):
    return [File(f"{prefix}{n}") for n in range(count)]


def test_a_walk_past_the_bound_never_leaves_a_listing_without_its_children():
    cache = ListingCache(max_names=1_000)
    parent = Dir("stores")
    cache.store_listing(1, parent, [Dir(f"store-{n}") for n in range(15)])
    for directory in range(2, 200):  # a `find` over far more names than the bound
        cache.store_listing(directory, Dir(str(directory)), nodes("k", 50))
        if cache.is_listed(1):
            assert all(cache.child(1, f"store-{n}") is not None for n in range(15))
    for directory in list(range(1, 200)):
        if cache.is_listed(directory):
            listed = cache.listing(directory)
            assert all(cache.child(directory, node.name) is node for node in listed)


def test_single_lookups_join_a_directorys_entry_and_expire_with_it():
    clock = Clock()
    cache = ListingCache(clock=clock)
    directory = Dir("d")
    cache.store_child(7, directory, File("a"))
    assert cache.child(7, "a") is not None and not cache.is_listed(7)
    clock.now += LISTING_TTL + 1
    assert cache.child(7, "a") is None


def test_node_ttl_overrides_the_default():
    assert ttl_for(Dir("mutable")) == LISTING_TTL
    assert ttl_for(Dir("immutable", immutable=True)) == IMMUTABLE_TTL
    quick = Dir("quick")
    quick.ttl = 2.0
    assert ttl_for(quick) == 2.0
    clock = Clock()
    cache = ListingCache(clock=clock)
    cache.store_listing(3, quick, [File("x")])
    clock.now += 2.5
    assert not cache.is_listed(3)
