package rest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/read"
)

// CostLine is one cost line of a message, exact decimals.
type CostLine struct {
	Type, Name           string
	Ref                  *string
	Hold, Stream, Credit string
}

// Price is a priced message: its payment type, the address charged and
// its cost lines.
type Price struct {
	PaymentType    string
	ChargedAddress string
	Lines          []CostLine
}

// Pricer prices messages live with the network's current pricing
// (implemented in cmd over processor/cost). An unpriceable message is an
// error wrapping ErrInvalidMessage (422).
type Pricer interface {
	// Estimate prices a wire message (instance false) or a bare INSTANCE
	// content (instance true); content fields may carry
	// estimated_size_mib for files the node does not have.
	Estimate(ctx context.Context, body json.RawMessage, instance bool) (*Price, error)
	// Recalculate prices stored messages again and rewrites their cost
	// lines: one message, or every priced one when itemHash is "". It
	// returns how many it priced.
	Recalculate(ctx context.Context, itemHash string) (int, error)
}

// costDetail is a line of a price answer.
type costDetail struct {
	Type       string `json:"type"`
	Name       string `json:"name"`
	CostHold   string `json:"cost_hold"`
	CostStream string `json:"cost_stream"`
	CostCredit string `json:"cost_credit"`
}

// fixed18 is an exact decimal with 18 decimals, as the reference node
// formats costs.
func fixed18(r *big.Rat) string { return r.FloatString(18) }

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return new(big.Rat)
	}
	return r
}

// priceBody is the answer of price/{hash} and the estimates.
func priceBody(p *Price) map[string]any {
	total := new(big.Rat)
	detail := make([]costDetail, len(p.Lines))
	for i, l := range p.Lines {
		detail[i] = costDetail{Type: l.Type, Name: l.Name, CostHold: fixed18(rat(l.Hold)),
			CostStream: fixed18(rat(l.Stream)), CostCredit: fixed18(rat(l.Credit))}
		switch p.PaymentType {
		case "superfluid":
			total.Add(total, rat(l.Stream))
		case "credit":
			total.Add(total, rat(l.Credit))
		default:
			total.Add(total, rat(l.Hold))
		}
	}
	return map[string]any{"required_tokens": json.Number(fixed18(total)), "payment_type": p.PaymentType,
		"cost": fixed18(total), "detail": detail, "charged_address": p.ChargedAddress}
}

// executableTypes are the message types with costs.
var executableTypes = []string{"STORE", "PROGRAM", "INSTANCE", "V-PROGRAM"}

// messagePrice serves GET /api/v0/price/{hash}: the stored costs of a
// processed message. Pending: 202 (the reference node's 102 is not a final
// status in HTTP/1.1); rejected or unknown: 404; forgotten or removed: 410;
// a type without costs: 400.
func (a *API) messagePrice(w http.ResponseWriter, r *http.Request) error {
	hash, err := hashParam(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	st, err := a.status(ctx, hash)
	if err != nil {
		return err
	}
	switch st.Status {
	case messagestatus.StatusPending:
		return writeJSON(w, http.StatusAccepted, map[string]any{"status": "pending", "item_hash": hash})
	case messagestatus.StatusRejected:
		return errorf(http.StatusNotFound, "message %s was rejected", hash)
	case messagestatus.StatusForgotten, messagestatus.StatusRemoved:
		return errorf(http.StatusGone, "message %s is %s", hash, st.Status)
	}
	msgs, err := a.reader.MessagesByHash(ctx, []string{hash})
	if err != nil {
		return err
	}
	m := msgs[hash]
	if m == nil {
		return errorf(http.StatusNotFound, "message %s not found", hash)
	}
	if !among(executableTypes)(m.Type) {
		return errorf(http.StatusBadRequest, "%s messages have no cost", m.Type)
	}
	rows, err := a.reader.MessageCosts(ctx, hash)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, priceBody(storedPrice(m, rows)))
}

func storedPrice(m *ent.Message, rows []*ent.AccountCost) *Price {
	p := &Price{PaymentType: "hold", ChargedAddress: m.Owner}
	if m.PaymentType != nil && *m.PaymentType != "" {
		p.PaymentType = *m.PaymentType
	}
	for _, c := range rows {
		p.Lines = append(p.Lines, CostLine{Type: c.Type, Name: c.Name, Ref: c.Ref, Hold: c.CostHold, Stream: c.CostStream, Credit: c.CostCredit})
	}
	return p
}

// estimate serves POST /api/v0/price/estimate ({"message": …}) and
// /price/estimate/instance (a bare INSTANCE content).
func (a *API) estimate(instance bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if a.pricer == nil {
			return errorf(http.StatusServiceUnavailable, "this node does not estimate prices")
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		body := json.RawMessage(b)
		if !instance {
			var req struct {
				Message json.RawMessage `json:"message"`
			}
			if err := json.Unmarshal(b, &req); err != nil || len(req.Message) == 0 {
				return badParam("message", "body must be {\"message\": {...}}")
			}
			body = req.Message
		} else if !json.Valid(b) {
			return badParam("body", "body must be an INSTANCE content")
		}
		p, err := a.pricer.Estimate(r.Context(), body, instance)
		if errors.Is(err, ErrInvalidMessage) {
			return &Error{Status: http.StatusUnprocessableEntity, Param: "message", Message: err.Error()}
		}
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, priceBody(p))
	}
}

// recalculate serves POST /api/v0/price/recalculate and
// /price/{hash}/recalculate behind the admin token.
func (a *API) recalculate(w http.ResponseWriter, r *http.Request) error {
	if err := a.admin(r); err != nil {
		return err
	}
	if a.pricer == nil {
		return errorf(http.StatusServiceUnavailable, "this node does not price messages")
	}
	hash := r.PathValue("hash")
	if hash != "" && !isItemHash(hash) {
		return errorf(http.StatusBadRequest, "invalid item hash %q", hash)
	}
	n, err := a.pricer.Recalculate(r.Context(), hash)
	if errors.Is(err, ErrNotFound) {
		return errorf(http.StatusNotFound, "message %s has no cost to recalculate", hash)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"status": "success", "recalculated_count": n})
}

// ErrNotFound marks a Pricer.Recalculate of a message without costs (404).
var ErrNotFound = errors.New("not found")

// admin checks the X-Auth-Token header: base64("<unix time>:<base64 DER
// secp256k1 signature of sha256(unix time)>"), signed by the key whose
// compressed public key is NodeInfo.AdminPublicKey, at most MaxTokenAge
// old or early. No key configured: 403; a missing or bad token: 401.
func (a *API) admin(r *http.Request) error {
	if a.adminKey == nil {
		return errorf(http.StatusForbidden, "admin routes are disabled on this node")
	}
	tok := r.Header.Get("X-Auth-Token")
	if tok == "" {
		return errorf(http.StatusUnauthorized, "missing X-Auth-Token header")
	}
	if !VerifyAuthToken(tok, a.adminKey, a.cfg.Node.MaxTokenAge, time.Now()) {
		return errorf(http.StatusUnauthorized, "invalid or expired authentication token")
	}
	return nil
}

// VerifyAuthToken reports whether tok is a valid admin token of key at
// now (see API.admin).
func VerifyAuthToken(tok string, key *secp256k1.PublicKey, maxAge time.Duration, now time.Time) bool {
	raw, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		return false
	}
	ts, sigB64, ok := strings.Cut(string(raw), ":")
	if !ok {
		return false
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Unix() - sec; d > int64(maxAge/time.Second) || -d > int64(maxAge/time.Second) {
		return false
	}
	der, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		return false
	}
	sig, err := ecdsa.ParseDERSignature(der)
	if err != nil {
		return false
	}
	sum := sha256.Sum256([]byte(ts))
	return sig.Verify(sum[:], key)
}

// AuthToken makes an admin token signed by key at now (for tests and
// operators' tools).
func AuthToken(key *secp256k1.PrivateKey, now time.Time) string {
	ts := strconv.FormatInt(now.Unix(), 10)
	sum := sha256.Sum256([]byte(ts))
	sig := ecdsa.Sign(key, sum[:]).Serialize()
	return base64.StdEncoding.EncodeToString([]byte(ts + ":" + base64.StdEncoding.EncodeToString(sig)))
}

// parseAdminKey reads a hex public key ("" is none).
func parseAdminKey(s string) (*secp256k1.PublicKey, error) {
	if s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, err
	}
	return secp256k1.ParsePubKey(b)
}

// costs serves GET /api/v0/costs: a summary of the cost lines matching
// address, item_hash and payment_type, and (include_details ≥ 1) the
// resources, page mode.
func (a *API) costs(w http.ResponseWriter, r *http.Request) error {
	p := newParams(r.URL.Query(), a.cfg.MaxFilterValues)
	f := read.CostFilter{Owner: p.str("address", ""), ItemHash: p.str("item_hash", ""),
		PaymentType: p.oneOf("payment_type", "credit", payments...)}
	details := p.integer("include_details", 0, 0, 2)
	p.boolean("include_size", false)
	n := p.integer("pagination", 100, 10, 1000)
	page := p.integer("page", 1, 1, 1<<31)
	if p.err != nil {
		return p.err
	}
	n = min(n, int64(a.cfg.MaxPageSize))
	ctx := r.Context()
	s, err := a.reader.CostsSummary(ctx, f)
	if err != nil {
		return err
	}
	out := map[string]any{
		"summary": map[string]any{"total_consumed_credits": 0, "total_cost_hold": fixed18(rat(s.Hold)),
			"total_cost_stream": fixed18(rat(s.Stream)), "total_cost_credit": fixed18(rat(s.CreditCost)),
			"resource_count": s.Resources},
		"filters": map[string]any{"address": nilIfEmpty(f.Owner), "item_hash": nilIfEmpty(f.ItemHash), "payment_type": f.PaymentType},
	}
	if details > 0 {
		pg := paging{perPage: int(n), page: int(page)}
		hashes, by, err := a.reader.CostResources(ctx, f, pg.perPage, pg.offset())
		if err != nil {
			return err
		}
		res := make([]map[string]any, len(hashes))
		for i, h := range hashes {
			hold, stream, credit := new(big.Rat), new(big.Rat), new(big.Rat)
			var owner, pt string
			var lines []costDetail
			for _, c := range by[h] {
				owner, pt = c.Owner, c.PaymentType
				hold.Add(hold, rat(c.CostHold))
				stream.Add(stream, rat(c.CostStream))
				credit.Add(credit, rat(c.CostCredit))
				lines = append(lines, costDetail{Type: c.Type, Name: c.Name, CostHold: fixed18(rat(c.CostHold)),
					CostStream: fixed18(rat(c.CostStream)), CostCredit: fixed18(rat(c.CostCredit))})
			}
			item := map[string]any{"item_hash": h, "owner": owner, "payment_type": pt, "consumed_credits": 0,
				"cost_hold": fixed18(hold), "cost_stream": fixed18(stream), "cost_credit": fixed18(credit)}
			if details > 1 {
				item["detail"] = lines
			}
			res[i] = item
		}
		out["resources"] = res
		out["pagination_page"], out["pagination_per_page"] = pg.page, pg.perPage
		out["pagination_total"], out["pagination_item"] = s.Resources, "resources"
	}
	return writeJSON(w, http.StatusOK, out)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
