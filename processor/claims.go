package processor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/alephql/alephql/ent/pendingmessage"
)

// releaseDeadClaims frees the fetch-stage claims of earlier processes of
// this host that are not running any more, so a node restarted after a
// crash (kill -9, OOM) takes its messages back at once instead of waiting
// out their lease (Config.Lease, 2 min), during which their dependents
// could spend retries. Default IDs are "host:pid:nonce" (DefaultConfig). A
// claim of this host is released when its pid no longer exists, or when
// its pid is this process's (a restarted process that got the same pid, as
// PID 1 in a container does) but no processor of this process has its ID.
// Claims of other hosts and of custom IDs are left to their lease. It
// returns how many rows it released.
func (p *Processor) releaseDeadClaims(ctx context.Context) (int, error) {
	host, _, ok := splitClaimID(p.cfg.ID)
	if !ok {
		return 0, nil // a custom ID: nothing tells its incarnations apart
	}
	holders, err := p.db.Client.PendingMessage.Query().
		Where(pendingmessage.ClaimedByHasPrefix(host + ":")).
		Unique(true).Select(pendingmessage.FieldClaimedBy).Strings(ctx)
	if err != nil {
		return 0, fmt.Errorf("processor: read claim holders: %w", err)
	}
	var dead []string
	for _, h := range holders {
		hh, pid, ok := splitClaimID(h)
		if !ok || hh != host {
			continue
		}
		_, ours := runningIDs.Load(h)
		if pid == os.Getpid() && !ours || pid != os.Getpid() && !processAlive(pid) {
			dead = append(dead, h)
		}
	}
	if len(dead) == 0 {
		return 0, nil
	}
	n, err := p.db.Client.PendingMessage.Update().
		Where(pendingmessage.ClaimedByIn(dead...)).
		ClearClaimedBy().ClearClaimedUntil().Save(ctx)
	if err != nil {
		return 0, fmt.Errorf("processor: release dead claims: %w", err)
	}
	return n, nil
}

// runningIDs holds the IDs of the processors created in this process.
var runningIDs sync.Map

// defaultID returns a new default processor ID, "host:pid:nonce": unique
// per processor, and telling which host and process holds a claim.
func defaultID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + ":" + strconv.Itoa(os.Getpid()) + ":" + hex.EncodeToString(b[:])
}

// splitClaimID splits a default processor ID, "host:pid:nonce".
func splitClaimID(id string) (host string, pid int, ok bool) {
	parts := strings.Split(id, ":")
	if len(parts) < 3 {
		return "", 0, false
	}
	pid, err := strconv.Atoi(parts[len(parts)-2])
	if err != nil || pid <= 0 {
		return "", 0, false
	}
	return strings.Join(parts[:len(parts)-2], ":"), pid, true
}

// processAlive reports whether a process with this pid exists here (a
// process of another user counts as alive).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
