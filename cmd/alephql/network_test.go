package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/peer"
	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/indexer/follow"
)

func TestNetworkStores(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		c := db.Client

		t.Run("core channel nodes", func(t *testing.T) {
			nodes := coreChannelNodes{c}
			got, err := nodes.NodeAddrs(ctx)
			require.NoError(t, err)
			require.Empty(t, got, "no aggregate yet")
			now := time.Now().UTC()
			content := json.RawMessage(`{"nodes":[{"multiaddress":"/ip4/1.2.3.4/tcp/4025/p2p/QmA"},{"multiaddress":""},{"name":"no address"}],"resource_nodes":[]}`)
			for _, owner := range []string{coreChannelOwner, "0x0000000000000000000000000000000000000001"} {
				require.NoError(t, c.Aggregate.Create().SetOwner(owner).SetKey(coreChannelKey).SetContent(content).
					SetCreationDatetime(now).SetLastUpdated(now).SetLastRevisionHash("00").Exec(ctx))
			}
			got, err = nodes.NodeAddrs(ctx)
			require.NoError(t, err)
			require.Equal(t, []string{"/ip4/1.2.3.4/tcp/4025/p2p/QmA"}, got)
		})

		t.Run("peers upsert", func(t *testing.T) {
			rec := entPeers{c}
			t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			require.NoError(t, rec.RecordPeer(ctx, indexer.Peer{ID: "Qm1", Kind: indexer.PeerP2P, Address: "/ip4/1.1.1.1/tcp/4025/p2p/Qm1", Source: "p2p", LastSeen: t1}))
			require.NoError(t, rec.RecordPeer(ctx, indexer.Peer{ID: "Qm1", Kind: indexer.PeerHTTP, Address: "http://1.1.1.1:4024", Source: "p2p", LastSeen: t1}))
			require.NoError(t, rec.RecordPeer(ctx, indexer.Peer{ID: "Qm1", Kind: indexer.PeerP2P, Address: "/ip4/2.2.2.2/tcp/4025/p2p/Qm1", Source: "p2p", LastSeen: t1.Add(time.Hour)}))
			require.Error(t, rec.RecordPeer(ctx, indexer.Peer{ID: "Qm1", Kind: "ftp", Address: "x"}))
			rows, err := c.Peer.Query().Order(peer.ByPeerType()).All(ctx)
			require.NoError(t, err)
			require.Len(t, rows, 2)
			require.Equal(t, "http://1.1.1.1:4024", rows[0].Address)
			require.Equal(t, "/ip4/2.2.2.2/tcp/4025/p2p/Qm1", rows[1].Address)
			require.True(t, rows[1].LastSeen.Equal(t1.Add(time.Hour)))
		})

		t.Run("follow cursors", func(t *testing.T) {
			cur := followCursors{c}
			p, err := cur.Load(ctx, "https://a.example")
			require.NoError(t, err)
			require.Equal(t, follow.Position{}, p)
			want := follow.Position{Cursor: "eyJoIjoiYWIiLCJ0IjoiMjAyMy0xMS0xNFQyMjoxMzoyMCswMDowMCJ9", Newest: time.UnixMicro(1700000000123456).UTC()}
			require.NoError(t, cur.Save(ctx, "https://a.example", follow.Position{Cursor: "old"}))
			require.NoError(t, cur.Save(ctx, "https://a.example", want))
			require.NoError(t, cur.Save(ctx, "https://b.example", follow.Position{Cursor: "other"}))
			p, err = cur.Load(ctx, "https://a.example")
			require.NoError(t, err)
			require.Equal(t, want.Cursor, p.Cursor)
			require.True(t, want.Newest.Equal(p.Newest))
			require.False(t, p.Resume)

			// The peer's event_seq, while known (0 is a position).
			for _, seq := range []int64{0, 4242} {
				want.Resume, want.EventSeq = true, seq
				require.NoError(t, cur.Save(ctx, "https://a.example", want))
				p, err = cur.Load(ctx, "https://a.example")
				require.NoError(t, err)
				require.True(t, p.Resume)
				require.Equal(t, seq, p.EventSeq)
				require.Equal(t, want.Cursor, p.Cursor)
			}
			p, err = cur.Load(ctx, "https://b.example")
			require.NoError(t, err)
			require.False(t, p.Resume, "another peer's event_seq")
			want.Resume, want.EventSeq = false, 0
			require.NoError(t, cur.Save(ctx, "https://a.example", want))
			p, err = cur.Load(ctx, "https://a.example")
			require.NoError(t, err)
			require.False(t, p.Resume, "forgotten once unknown")
		})
	})
}
