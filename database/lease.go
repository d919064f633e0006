package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"entgo.io/ent/dialect"
)

// LeaseConfig tunes how leases are taken and watched. The zero value uses
// the defaults.
type LeaseConfig struct {
	// Poll is how often a waiting node tries to take a lease that another
	// node holds (default 1 s): it bounds the take-over time after the
	// holder dies.
	Poll time.Duration
	// Check is how often a holder checks that its session, and so its
	// lease, is still alive (default 2 s).
	Check time.Duration
}

func (c LeaseConfig) withDefaults() LeaseConfig {
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Check <= 0 {
		c.Check = 2 * time.Second
	}
	return c
}

// Lease is an exclusive hold on a name, shared by every node of one
// database: a component that must run on one node at a time (a chain
// reader, a billing job) runs only while it holds its lease.
//
// On PostgreSQL a lease is a session advisory lock held on a dedicated
// connection: when the holding process dies, its connection closes, the
// server drops the lock, and a waiting node takes it at its next poll. On
// SQLite, the embedded single-node mode, a lease is held within the process
// (two handles on the same file in one process still exclude each other);
// several processes sharing one SQLite file are not supported.
type Lease struct {
	name    string
	lost    chan struct{}
	once    sync.Once
	release func()
}

// Name returns the lease's name.
func (l *Lease) Name() string { return l.name }

// Lost is closed when the lease is lost (the session holding it broke) or
// released. A holder must stop its work when it is closed.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Held reports whether the lease is still held.
func (l *Lease) Held() bool {
	select {
	case <-l.lost:
		return false
	default:
		return true
	}
}

// Release gives the lease up. It is safe to call more than once.
func (l *Lease) Release() {
	l.once.Do(func() {
		close(l.lost)
		l.release()
	})
}

// AcquireLease waits until this process holds the lease name, or ctx ends.
func (d *DB) AcquireLease(ctx context.Context, name string) (*Lease, error) {
	return d.AcquireLeaseWith(ctx, name, LeaseConfig{})
}

// AcquireLeaseWith is AcquireLease with explicit timings.
func (d *DB) AcquireLeaseWith(ctx context.Context, name string, cfg LeaseConfig) (*Lease, error) {
	cfg = cfg.withDefaults()
	if name == "" {
		return nil, errors.New("acquire lease: empty name")
	}
	for {
		l, err := d.tryLease(ctx, name, cfg)
		if err != nil && ctx.Err() == nil {
			// The database is down or the connection broke: wait and try
			// again, as a node that finds the lease taken does.
			err = nil
		}
		if err != nil || l != nil {
			return l, err
		}
		t := time.NewTimer(cfg.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("acquire lease %s: %w", name, ctx.Err())
		case <-t.C:
		}
	}
}

// TryLease takes the lease name if no one holds it; it returns nil, nil
// when another node (or another handle in this process) holds it.
func (d *DB) TryLease(ctx context.Context, name string) (*Lease, error) {
	return d.tryLease(ctx, name, LeaseConfig{}.withDefaults())
}

func (d *DB) tryLease(ctx context.Context, name string, cfg LeaseConfig) (*Lease, error) {
	if d.Dialect != dialect.Postgres {
		return localLease(d.Name, name), nil
	}
	conn, err := d.SQL.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("lease %s: connect: %w", name, err)
	}
	id := leaseID(name)
	var ok bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", id).Scan(&ok); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("lease %s: %w", name, err)
	}
	if !ok {
		_ = conn.Close()
		return nil, nil
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	l := &Lease{name: name, lost: make(chan struct{})}
	l.release = func() {
		close(stop)
		wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// Closing the session drops the lock too; unlocking first lets a
		// pooled connection be reused safely.
		_, _ = conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", id)
		_ = conn.Close()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		watchSession(conn, cfg.Check, stop, l)
	}()
	return l, nil
}

// watchSession pings the lease's session until stop; a failed ping means
// the server may already have dropped the lock, so the lease is lost.
func watchSession(conn *sql.Conn, every time.Duration, stop <-chan struct{}, l *Lease) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		err := conn.PingContext(ctx)
		cancel()
		if err != nil {
			// Release must not wait on this goroutine: it is the one
			// calling it.
			l.once.Do(func() {
				close(l.lost)
				_ = conn.Close()
			})
			return
		}
	}
}

// leaseID is the advisory lock number of a lease name, apart from the
// numbers of the processor's transaction locks by its prefix.
func leaseID(name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("alephql.lease." + name))
	return int64(h.Sum64())
}

var (
	localMu     sync.Mutex
	localLeases = map[string]bool{}
)

// localLease takes an in-process lease on SQLite, or returns nil if held.
func localLease(db, name string) *Lease {
	key := db + "\x00" + name
	localMu.Lock()
	defer localMu.Unlock()
	if localLeases[key] {
		return nil
	}
	localLeases[key] = true
	return &Lease{name: name, lost: make(chan struct{}), release: func() {
		localMu.Lock()
		delete(localLeases, key)
		localMu.Unlock()
	}}
}

// RunWithLease runs run while this process holds the lease name: it waits
// for the lease, runs run with a context that ends when the lease is lost,
// and, when the lease was lost rather than run failing, waits for the lease
// again. It returns when ctx ends (nil) or run returns an error while the
// lease was held.
func RunWithLease(ctx context.Context, db *DB, name string, run func(ctx context.Context) error) error {
	return RunWithLeaseConfig(ctx, db, name, LeaseConfig{}, run)
}

// RunWithLeaseConfig is RunWithLease with explicit timings.
func RunWithLeaseConfig(ctx context.Context, db *DB, name string, cfg LeaseConfig, run func(ctx context.Context) error) error {
	for {
		l, err := db.AcquireLeaseWith(ctx, name, cfg)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		rctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-l.Lost():
				cancel()
			case <-rctx.Done():
			}
		}()
		err = run(rctx)
		lost := !l.Held()
		cancel()
		l.Release()
		switch {
		case ctx.Err() != nil:
			return nil
		case lost:
			continue
		case err != nil:
			return fmt.Errorf("lease %s: %w", name, err)
		default:
			return nil
		}
	}
}
