package demo

import (
	"fmt"
	"math/rand/v2"
)

// Dataset generates a sample of signed messages: accounts posting notes
// and blog entries, amending some, keeping profile and settings
// aggregates (some updates out of order), one account delegating to
// another through its security aggregate, FORGETs of a few posts and,
// when Files is set, STOREs of small files (new versions of named files
// among them) and PROGRAM and INSTANCE messages with volumes of every
// kind (see vm).
type Dataset struct {
	// Accounts sign the messages; NewDataset generates them.
	Accounts []*Account
	// Files, when set, stores a file's bytes where the node will find them
	// (the "storage" engine) and returns their sha256 hash. Without it the
	// dataset has no STORE messages.
	Files func(data []byte) (string, error)
	// Start is the time of the first message (epoch seconds).
	Start float64
	rng   *rand.Rand
	posts [][]string // per account: post hashes
	n     int
	// queue holds signed messages Next returns before generating more.
	queue []signed
	// vmFiles are the STOREs the VMs use as volumes, once sent.
	vmFiles *vmFiles
	vms     int
}

// signed is one generated message.
type signed struct {
	raw  []byte
	hash string
}

// NewDataset returns a generator with n fresh accounts (at least 2).
func NewDataset(accounts int, start float64, seed uint64) (*Dataset, error) {
	if accounts < 2 {
		accounts = 2
	}
	d := &Dataset{Start: start, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for range accounts {
		a, err := NewAccount()
		if err != nil {
			return nil, err
		}
		d.Accounts = append(d.Accounts, a)
	}
	d.posts = make([][]string, accounts)
	return d, nil
}

var channels = []string{"TEST", "MYALEPH", "ALEPH-CLOUDSOLUTIONS", "demo"}

// Next returns the next message's wire JSON and item hash.
func (d *Dataset) Next() ([]byte, string, error) {
	d.n++
	if len(d.queue) > 0 {
		m := d.queue[0]
		d.queue = d.queue[1:]
		return m.raw, m.hash, nil
	}
	t := d.Start + float64(d.n)
	i := d.rng.IntN(len(d.Accounts))
	a := d.Accounts[i]
	ch := channels[d.rng.IntN(len(channels))]
	switch k := d.n % 20; {
	case d.n == 1:
		// Account 0 lets account 1 post notes for it.
		return a0(d).Aggregate(t, "TEST", "security", map[string]any{"authorizations": []any{
			map[string]any{"address": d.Accounts[1].Address(), "types": []string{"POST"}, "post_types": []string{"note"}},
		}})
	case k < 9:
		raw, h, err := a.Post(t, ch, pick(d.rng, "note", "blog", "chat"), map[string]any{
			"title": fmt.Sprintf("message %d", d.n), "body": "hello from the alephql demo",
			"tags": []string{pick(d.rng, "demo", "alephql", "go"), pick(d.rng, "news", "test")},
		}, "")
		if err == nil {
			d.posts[i] = append(d.posts[i], h)
		}
		return raw, h, err
	case k < 11 && len(d.posts[i]) > 0:
		ref := d.posts[i][d.rng.IntN(len(d.posts[i]))]
		return a.Amend(t, ch, ref, map[string]any{"title": fmt.Sprintf("amended at %d", d.n), "body": "edited"})
	case k < 16:
		// Some updates are dated in the past: they arrive out of order.
		at := t
		if d.rng.IntN(5) == 0 {
			at -= float64(d.rng.IntN(50) + 1)
		}
		return a.Aggregate(at, ch, pick(d.rng, "profile", "settings"), map[string]any{
			pick(d.rng, "name", "avatar", "theme", "lang"): fmt.Sprintf("v%d", d.n),
		})
	case k == 16:
		return d.Accounts[1].ForOwner(a0(d).Address(), Msg{Type: "POST", Channel: ch, Time: t,
			Content: map[string]any{"type": "note", "content": map[string]any{"body": "posted by a delegate"}}})
	case k == 18 && d.Files != nil:
		return d.store(a, t, ch)
	case k == 19 && d.Files != nil:
		return d.vm(a, ch)
	case k == 17 && len(d.posts[i]) > 3:
		h := d.posts[i][0]
		d.posts[i] = d.posts[i][1:]
		return a.Forget(t, ch, h)
	default:
		return a.Post(t, ch, "chat", map[string]any{"body": fmt.Sprintf("ping %d", d.n)}, "")
	}
}

func a0(d *Dataset) *Account { return d.Accounts[0] }

// store signs a STORE of a small new file. Half of them are versions of a
// named file ("<owner>/notes.txt"), so file tags have a history. Small
// files paid by holding tokens are free, so they need no balance.
func (d *Dataset) store(a *Account, t float64, ch string) ([]byte, string, error) {
	data := fmt.Appendf(nil, "alephql demo file %d by %s\n", d.n, a.Address())
	h, err := d.Files(data)
	if err != nil {
		return nil, "", fmt.Errorf("demo: store file: %w", err)
	}
	c := map[string]any{"item_type": "storage", "item_hash": h, "size": len(data), "mime_type": "text/plain"}
	if d.rng.IntN(2) == 0 {
		c["ref"] = "notes.txt"
	}
	return a.Sign(Msg{Type: "STORE", Channel: ch, Time: t, Content: c})
}

// pick returns one of the options.
func pick(r *rand.Rand, opts ...string) string { return opts[r.IntN(len(opts))] }
