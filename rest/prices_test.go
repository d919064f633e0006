package rest_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/processor/cost"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/handler"
	"github.com/alephql/alephql/rest"
)

// pricer is the rest.Pricer cmd wires, over the handlers' cost model.
type pricer struct{ client *ent.Client }

func (p pricer) Estimate(ctx context.Context, body json.RawMessage, instance bool) (*rest.Price, error) {
	m, costs, err := handler.EstimateMessage(ctx, p.client, handler.DefaultConfig(), body, instance)
	if err != nil {
		if errcode.KindOf(err) == errcode.Invalid {
			return nil, errors.Join(rest.ErrInvalidMessage, err)
		}
		return nil, err
	}
	out := &rest.Price{PaymentType: string(cost.PaymentOf(m.Content)), ChargedAddress: m.Owner()}
	for _, c := range costs {
		out.Lines = append(out.Lines, rest.CostLine{Type: c.Type, Name: c.Name, Ref: c.Ref, Hold: c.Hold, Stream: c.Stream, Credit: c.Credit})
	}
	return out, nil
}

func (p pricer) Recalculate(ctx context.Context, itemHash string) (int, error) {
	n, err := handler.Recalculate(ctx, p.client, handler.DefaultConfig(), itemHash)
	if errors.Is(err, handler.ErrNothingToPrice) {
		return 0, errors.Join(rest.ErrNotFound, err)
	}
	return n, err
}

// instanceContent is the spec's worked example (5.3): 2 vCPU, 4096 MiB,
// a 20 480 MiB rootfs.
func instanceContent(payment string) map[string]any {
	return map[string]any{
		"address": "0x0000000000000000000000000000000000000001", "time": 1.75e9, "allow_amend": false,
		"rootfs": map[string]any{"parent": map[string]any{"ref": strings.Repeat("ab", 32), "use_latest": false},
			"persistence": "host", "size_mib": 20480},
		"environment": map[string]any{"internet": true},
		"resources":   map[string]any{"vcpus": 2, "memory": 4096, "seconds": 30},
		"payment":     map[string]any{"type": payment, "chain": "ETH"},
		"volumes":     []any{},
	}
}

// adminServer is a node whose admin key is key's.
func postWithToken(t *testing.T, url, token string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(b, &out), "%s", b)
	return res.StatusCode, out
}

// TestPriceRoutes: live estimates reproduce the spec's worked example
// (credit and hold), recalculation is admin-only (403 without a key, 401
// without or with a bad or stale token) and writes the cost lines that
// price/{hash} and costs then serve, on both back-ends.
func TestPriceRoutes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		key, err := secp256k1.GeneratePrivateKey()
		require.NoError(t, err)
		n := newNodeWith(t, db, rest.Config{Node: rest.NodeInfo{AdminPublicKey: fmt.Sprintf("%x", key.PubKey().SerializeCompressed())}},
			rest.WithPricer(pricer{db.Client}))

		var p map[string]any
		require.Equal(t, http.StatusOK, n.post("/api/v0/price/estimate/instance", instanceContent("credit"), &p))
		require.Equal(t, "7.916666666666666666", p["cost"], "spec 5.3's worked example")
		require.Equal(t, "credit", p["payment_type"])
		require.Len(t, p["detail"], 3, "execution, rootfs and the volume discount")
		require.Equal(t, http.StatusOK, n.post("/api/v0/price/estimate/instance", instanceContent("hold"), &p))
		require.Equal(t, "2000.000000000000000000", p["cost"])

		acct := "0x0000000000000000000000000000000000000001"
		content, err := json.Marshal(instanceContent("hold"))
		require.NoError(t, err)
		wire := map[string]any{"chain": "ETH", "sender": acct, "type": "INSTANCE", "item_type": "inline",
			"item_content": string(content), "item_hash": sha256hex(content), "time": 1.75e9, "signature": "0x00"}
		require.Equal(t, http.StatusOK, n.post("/api/v0/price/estimate", map[string]any{"message": wire}, &p))
		require.Equal(t, "2000.000000000000000000", p["cost"])
		require.Equal(t, acct, p["charged_address"])
		// A STORE of a file the node does not have, sized by estimated_size_mib:
		// 100 MiB at the storage product's 1/3 ALEPH per MiB held.
		store, err := json.Marshal(map[string]any{"address": acct, "time": 1.75e9, "item_type": "storage",
			"item_hash": strings.Repeat("cd", 32), "estimated_size_mib": 100})
		require.NoError(t, err)
		wire = map[string]any{"chain": "ETH", "sender": acct, "type": "STORE", "item_type": "inline",
			"item_content": string(store), "item_hash": sha256hex(store), "time": 1.75e9, "signature": "0x00"}
		require.Equal(t, http.StatusOK, n.post("/api/v0/price/estimate", map[string]any{"message": wire}, &p))
		require.Equal(t, "33.333333300000000000", p["cost"])
		var e map[string]any
		require.Equal(t, http.StatusUnprocessableEntity, n.post("/api/v0/price/estimate", map[string]any{"message": map[string]any{"type": "INSTANCE"}}, &e))
		require.Equal(t, "message", e["param"])

		// A processed INSTANCE without cost lines yet.
		ctx := t.Context()
		hash := sha256hex(content)
		now := time.Now().UTC()
		db.Client.MessageStatus.Create().SetID(hash).SetStatus(messagestatus.StatusProcessed).SetReceptionTime(now).SetUpdatedAt(now).ExecX(ctx)
		db.Client.Message.Create().SetID(hash).SetType("INSTANCE").SetChain("ETH").SetSender(acct).SetItemType("inline").
			SetItemContent(string(content)).SetContent(content).SetTime(time.Unix(1750000000, 0)).SetReceptionTime(now).
			SetOwner(acct).SetPaymentType("hold").ExecX(ctx)

		recalc := n.url + "/api/v0/price/" + hash + "/recalculate"
		code, _ := postWithToken(t, recalc, "")
		require.Equal(t, http.StatusUnauthorized, code)
		other, err := secp256k1.GeneratePrivateKey()
		require.NoError(t, err)
		code, _ = postWithToken(t, recalc, rest.AuthToken(other, time.Now()))
		require.Equal(t, http.StatusUnauthorized, code, "another key's token")
		code, _ = postWithToken(t, recalc, rest.AuthToken(key, time.Now().Add(-10*time.Minute)))
		require.Equal(t, http.StatusUnauthorized, code, "a stale token")
		code, body := postWithToken(t, recalc, rest.AuthToken(key, time.Now()))
		require.Equal(t, http.StatusOK, code, "%v", body)
		require.Equal(t, 1.0, body["recalculated_count"])
		code, body = postWithToken(t, n.url+"/api/v0/price/recalculate", rest.AuthToken(key, time.Now()))
		require.Equal(t, http.StatusOK, code, "%v", body)
		require.Equal(t, 1.0, body["recalculated_count"])

		require.Equal(t, http.StatusOK, n.get("/api/v0/price/"+hash, &p))
		require.Equal(t, "2000.000000000000000000", p["cost"])
		require.Equal(t, "hold", p["payment_type"])
		require.Equal(t, http.StatusNotFound, n.get("/api/v0/price/"+strings.Repeat("0", 64), nil))
		require.Equal(t, http.StatusBadRequest, n.get("/api/v0/price/nothash", nil))

		var c map[string]any
		require.Equal(t, http.StatusOK, n.get("/api/v0/costs?payment_type=hold&include_details=2&address="+acct, &c))
		require.Equal(t, "2000.000000000000000000", c["summary"].(map[string]any)["total_cost_hold"])
		require.Len(t, c["resources"], 1)
		require.Len(t, c["resources"].([]any)[0].(map[string]any)["detail"], 3)
		require.Equal(t, http.StatusUnprocessableEntity, n.get("/api/v0/costs?pagination=5", &e))
		require.Equal(t, "pagination", e["param"])

		// Without a key the admin routes are closed.
		closed := newNodeWith(t, db, rest.Config{}, rest.WithPricer(pricer{db.Client}))
		code, _ = postWithToken(t, closed.url+"/api/v0/price/recalculate", rest.AuthToken(key, time.Now()))
		require.Equal(t, http.StatusForbidden, code)
	})
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
