package vault

import "sync"

// cacheMax bounds the cache; when it is full it starts again empty (a vault entry is
// small, and a command needs only a few).
const cacheMax = 200_000

// entryCache keeps the entries this process read or wrote, by subject, for a vault no
// other process writes (Options.Exclusive). An erasure drops its subject before and after
// it deletes the entry and bumps gen each time, so that a read that began before the
// deletion ended never stores what the deletion removed.
type entryCache struct {
	mu  sync.Mutex
	gen uint64
	m   map[string][]byte
}

func (c *entryCache) lookup(subject string) (value []byte, gen uint64, ok bool) {
	if c == nil {
		return nil, 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	value, ok = c.m[subject]
	return value, c.gen, ok
}

// store keeps value unless an erasure ran since gen was read.
func (c *entryCache) store(subject string, value []byte, gen uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.m) >= cacheMax {
		c.m = map[string][]byte{}
	}
	c.m[subject] = value
}

func (c *entryCache) drop(subject string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.m, subject)
}
