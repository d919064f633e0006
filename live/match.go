package live

import (
	"slices"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/read"
)

// indexKeys picks the most selective criterion of f the hub can match on
// event attributes and returns one index key per value ("" if none).
func indexKeys(f *read.MessageFilter) []string {
	if f == nil {
		return []string{""}
	}
	for _, c := range []struct {
		dim string
		vs  []string
	}{
		{"hash", f.Hashes}, {"sender", f.Senders}, {"owner", f.Owners}, {"channel", f.Channels},
		{"ref", f.Refs}, {"key", f.ContentKeys}, {"ctype", f.ContentTypes}, {"tag", f.Tags},
		{"type", f.Types}, {"chain", f.Chains},
	} {
		if len(c.vs) > 0 {
			keys := make([]string, len(c.vs))
			for i, v := range c.vs {
				keys[i] = c.dim + "=" + v
			}
			return keys
		}
	}
	return []string{""}
}

// messageKeys are the index keys a message matches.
func messageKeys(hash string, m *ent.Message) []string {
	keys := []string{"", "hash=" + hash}
	if m == nil {
		return keys
	}
	add := func(dim string, v *string) {
		if v != nil && *v != "" {
			keys = append(keys, dim+"="+*v)
		}
	}
	add("sender", &m.Sender)
	add("owner", &m.Owner)
	add("channel", m.Channel)
	add("ref", m.ContentRef)
	add("key", m.ContentKey)
	add("ctype", m.ContentType)
	add("type", &m.Type)
	add("chain", &m.Chain)
	for _, t := range m.Tags {
		add("tag", &t)
	}
	return keys
}

// Match is the authoritative filter check, on the message as
// stored; replayed and live events both pass through it.
func Match(f *read.MessageFilter, m *ent.Message) bool {
	if f == nil {
		return true
	}
	if m == nil {
		return false
	}
	in := func(vs []string, v *string) bool {
		return len(vs) == 0 || (v != nil && slices.Contains(vs, *v))
	}
	s := func(v string) *string { return &v }
	var pay *string
	if m.PaymentType != nil {
		pay = m.PaymentType
	}
	ok := in(f.Hashes, s(m.ID)) && in(f.Senders, s(m.Sender)) && in(f.Owners, s(m.Owner)) &&
		in(f.Channels, m.Channel) && in(f.Chains, s(m.Chain)) && in(f.Refs, m.ContentRef) &&
		in(f.ContentKeys, m.ContentKey) && in(f.ContentTypes, m.ContentType) && in(f.ContentHashes, m.ContentItemHash) &&
		in(f.Types, s(m.Type)) && in(f.Statuses, s(string(m.Status))) && in(f.PaymentTypes, pay) &&
		(len(f.Tags) == 0 || slices.ContainsFunc(m.Tags, func(t string) bool { return slices.Contains(f.Tags, t) }))
	if !ok {
		return false
	}
	if (f.TimeFrom != nil && m.Time.Before(*f.TimeFrom)) || (f.TimeTo != nil && !m.Time.Before(*f.TimeTo)) {
		return false
	}
	h := m.FirstConfirmedHeight
	if f.HeightFrom != nil && (h == nil && !f.UnconfirmedPassHeightFrom || h != nil && *h < *f.HeightFrom) {
		return false
	}
	if f.HeightTo != nil && (h == nil || *h >= *f.HeightTo) {
		return false
	}
	return true
}
