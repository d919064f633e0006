package netstat_test

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/indexer/netstat"
)

func TestRegistryCountsAndExports(t *testing.T) {
	r := netstat.NewRegistry()
	s := r.Source("https://peer.example", "follow")
	require.Same(t, s, r.Source("https://peer.example", "follow"))
	s.Received(4)
	s.Record([]indexer.Result{{Outcome: indexer.Accepted}, {Outcome: indexer.Rejected}, {Outcome: indexer.Duplicate}})
	s.Duplicate(1)
	s.SetLag(3 * time.Second)
	s.SetState(netstat.Backfilling)
	s.SetError(errors.New("boom"))
	s.SetError(nil) // keeps the last error
	s.ResumeGone()
	s.ResumeGone()
	r.Source("ipfs-pubsub", "ipfs").SetState(netstat.Live)

	st := r.Snapshot()
	require.Len(t, st, 2)
	require.Equal(t, netstat.Status{Name: "https://peer.example", Kind: "follow", Received: 4, Accepted: 1, Rejected: 1,
		Duplicate: 2, Lag: 3 * time.Second, State: netstat.Backfilling, LastError: "boom", LastErrorAt: st[0].LastErrorAt,
		ResumeGone: 2}, st[0])
	require.False(t, st[0].LastErrorAt.IsZero())

	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(r))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			got[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	require.Equal(t, map[string]float64{
		"alephql_indexer_source_messages_total,kind=follow,outcome=accepted,source=https://peer.example":  1,
		"alephql_indexer_source_messages_total,kind=follow,outcome=duplicate,source=https://peer.example": 2,
		"alephql_indexer_source_messages_total,kind=follow,outcome=received,source=https://peer.example":  4,
		"alephql_indexer_source_messages_total,kind=follow,outcome=rejected,source=https://peer.example":  1,
		"alephql_indexer_source_lag_seconds,kind=follow,source=https://peer.example":                      3,
		"alephql_indexer_source_state,kind=follow,source=https://peer.example,state=backfilling":          1,
		"alephql_follow_resume_gone_total,peer=https://peer.example":                                      2,
		// A source that follows no node has no resume to lose.
		"alephql_indexer_source_messages_total,kind=ipfs,outcome=accepted,source=ipfs-pubsub":  0,
		"alephql_indexer_source_messages_total,kind=ipfs,outcome=duplicate,source=ipfs-pubsub": 0,
		"alephql_indexer_source_messages_total,kind=ipfs,outcome=received,source=ipfs-pubsub":  0,
		"alephql_indexer_source_messages_total,kind=ipfs,outcome=rejected,source=ipfs-pubsub":  0,
		"alephql_indexer_source_lag_seconds,kind=ipfs,source=ipfs-pubsub":                      0,
		"alephql_indexer_source_state,kind=ipfs,source=ipfs-pubsub,state=live":                 1,
	}, got)

	var nilSource *netstat.Source
	nilSource.Received(1) // a nil source counts nothing, without panicking
	var nilReg *netstat.Registry
	require.Nil(t, nilReg.Source("x", "y"))
}
