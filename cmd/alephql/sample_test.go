package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSampleDataLoadsEveryKind starts serve with --sample-data on a new
// data directory, as make run does, and checks that the sample is
// processed, STOREs (whose files the loader put in the local store),
// PROGRAMs and INSTANCEs with their volumes included: the VMs need no
// balance, being dated before the network's payment cut-offs (see
// demo.VMEpoch).
func TestSampleDataLoadsEveryKind(t *testing.T) {
	const size = 400
	base, stop := startServe(t, "--data-dir", t.TempDir(), "--sample-data", "--sample-size", fmt.Sprint(size))
	count := func(kind string) (total, pending int, err error) {
		res, err := http.Post(base+"graphql", "application/json", strings.NewReader(
			`{"query":"{ messages(filter: {types: [`+kind+`]}, first: 1) { totalCount } }"}`))
		if err != nil {
			return 0, 0, err
		}
		defer res.Body.Close()
		var out struct {
			Data struct {
				Messages struct{ TotalCount int }
			}
			Extensions struct {
				Freshness struct{ PendingMessages int }
			}
		}
		err = json.NewDecoder(res.Body).Decode(&out)
		return out.Data.Messages.TotalCount, out.Extensions.Freshness.PendingMessages, err
	}
	// Every 20th sample message is a STORE of a small file: free (a small
	// hold STORE), so all of them end processed once the queue is empty.
	// Three more STOREs hold the VMs' volumes; every 20th message is a
	// PROGRAM or an INSTANCE, in turn.
	// The VMs wait for their volumes' STOREs: wait for them too (the
	// freshness extension's pending count may be up to a second old, from
	// before the sample was queued).
	var programs, instances int
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		n, pending, err := count("STORE")
		require.NoError(c, err)
		assert.Equal(c, size/20+3, n, "processed STOREs")
		assert.Zero(c, pending, "pending messages")
		programs, _, err = count("PROGRAM")
		require.NoError(c, err)
		instances, _, err = count("INSTANCE")
		require.NoError(c, err)
		assert.Equal(c, size/20, programs+instances, "processed VMs")
	}, 120*time.Second, 250*time.Millisecond)
	require.Equal(t, size/40, programs)

	// Their volumes of every kind are recorded, and they cost what they
	// cost even though no balance was checked.
	res, err := http.Post(base+"graphql", "application/json", strings.NewReader(
		`{"query":"{ vms(first: 2) { edges { node { type volumes { kind } costs { type } } } } }"}`))
	require.NoError(t, err)
	defer res.Body.Close()
	var vms struct {
		Data struct {
			Vms struct {
				Edges []struct {
					Node struct {
						Type    string
						Volumes []struct{ Kind string }
						Costs   []struct{ Type string }
					}
				}
			}
		}
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&vms))
	kinds := map[string]map[string]bool{}
	for _, e := range vms.Data.Vms.Edges {
		if kinds[e.Node.Type] == nil {
			kinds[e.Node.Type] = map[string]bool{}
		}
		for _, v := range e.Node.Volumes {
			kinds[e.Node.Type][v.Kind] = true
		}
		require.NotEmpty(t, e.Node.Costs, "cost rows of %s", e.Node.Type)
	}
	require.Equal(t, map[string]map[string]bool{
		"PROGRAM":  {"code": true, "runtime": true, "data": true, "immutable": true, "ephemeral": true, "persistent": true},
		"INSTANCE": {"rootfs": true, "immutable": true, "ephemeral": true, "persistent": true},
	}, kinds)
	for _, kind := range []string{"POST", "AGGREGATE", "FORGET"} {
		n, _, err := count(kind)
		require.NoError(t, err)
		require.Positive(t, n, kind)
	}
	require.Equal(t, 0, stop())
}
