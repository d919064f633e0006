package rest

import (
	"encoding/json"
	"net/http"
	"regexp"
	"time"

	"github.com/alephql/alephql/read"
)

// decimalText is a plain decimal number.
var decimalText = regexp.MustCompile(`^-?[0-9]{1,30}(\.[0-9]{1,30})?$`)

// decimal is an exact decimal string written as a JSON number (the
// reference node writes floats).
func decimal(s string) json.Number {
	if s == "" {
		return "0"
	}
	return json.Number(s)
}

// accountBalance serves GET /api/v0/addresses/{address}/balance: chain
// narrows the balance to one chain; include_credit_details lists the lots.
func (a *API) accountBalance(w http.ResponseWriter, r *http.Request) error {
	addr := r.PathValue("address")
	p := newParams(r.URL.Query(), a.cfg.MaxFilterValues)
	chain := p.str("chain", "")
	withLots := p.boolean("include_credit_details", false)
	if p.err != nil {
		return p.err
	}
	ctx := r.Context()
	rows, err := a.reader.AccountBalances(ctx, addr, a.cfg.MaxPageSize)
	if err != nil {
		return err
	}
	details := map[string]json.Number{}
	var vs []string
	for _, b := range rows {
		if b.Dapp != "" || (chain != "" && b.Chain != chain) {
			continue
		}
		details[b.Chain] = decimal(b.Balance)
		vs = append(vs, b.Balance)
	}
	locked, err := a.reader.LockedAmount(ctx, addr)
	if err != nil {
		return err
	}
	lots, err := a.reader.CreditLots(ctx, addr, time.Now())
	if err != nil {
		return err
	}
	var credits int64
	type lot struct {
		Expiration *string `json:"expiration_date"`
		Amount     int64   `json:"amount"`
	}
	var lotList []lot
	for _, l := range lots {
		credits += l.AmountRemaining
		var exp *string
		if l.ExpirationDate != nil {
			s := isoTime(*l.ExpirationDate)
			exp = &s
		}
		lotList = append(lotList, lot{Expiration: exp, Amount: l.AmountRemaining})
	}
	out := map[string]any{
		"address": addr, "balance": decimal(read.SumDecimals(vs)), "details": details,
		"locked_amount": decimal(locked), "credit_balance": credits, "credit_balance_details": nil,
	}
	if withLots {
		if lotList == nil {
			lotList = []lot{}
		}
		out["credit_balance_details"] = lotList
	}
	return writeJSON(w, http.StatusOK, out)
}

// accountPostTypes serves GET /api/v0/addresses/{address}/post_types.
func (a *API) accountPostTypes(w http.ResponseWriter, r *http.Request) error {
	addr := r.PathValue("address")
	types, err := a.reader.AccountPostTypes(r.Context(), addr, a.cfg.MaxPageSize)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"address": addr, "post_types": nonNil(types)})
}

// accountChannels serves GET /api/v0/addresses/{address}/channels.
func (a *API) accountChannels(w http.ResponseWriter, r *http.Request) error {
	addr := r.PathValue("address")
	chans, err := a.reader.AccountChannels(r.Context(), addr, a.cfg.MaxPageSize)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"address": addr, "channels": nonNil(chans)})
}

// channelList serves GET /api/v0/channels/list.json: the distinct
// channels, at most MaxChannels.
func (a *API) channelList(w http.ResponseWriter, r *http.Request) error {
	chans, err := a.reader.Channels(r.Context(), a.cfg.Node.MaxChannels)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"channels": nonNil(chans)})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// accountFile is an entry of /addresses/{address}/files.
type accountFile struct {
	FileHash string `json:"file_hash"`
	Size     int64  `json:"size"`
	Type     string `json:"type"`
	Created  string `json:"created"`
	ItemHash string `json:"item_hash"`
}

// fileCursor is the files list's keyset position.
type fileCursor struct {
	Created time.Time `json:"t"`
	ID      int       `json:"i"`
}

// accountFiles serves GET /api/v0/addresses/{address}/files, page mode or
// cursor mode (keyset on creation time and pin id); 404 when the address
// stored nothing.
func (a *API) accountFiles(w http.ResponseWriter, r *http.Request) error {
	addr := r.PathValue("address")
	p := newParams(r.URL.Query(), a.cfg.MaxFilterValues)
	pg := a.paging(p, r, 100)
	desc := p.integer("sort_order", -1, -1, 1) == -1
	fileHash := p.str("file_hash", "")
	if p.err != nil {
		return p.err
	}
	page := read.Page{N: pg.perPage, Desc: desc}
	var after *read.FileCursor
	if pg.cursor == nil {
		page.Offset = pg.offset()
	} else if *pg.cursor != "" {
		var c fileCursor
		if err := decodeCursor(*pg.cursor, &c, func() bool { return !c.Created.IsZero() && c.ID > 0 }); err != nil {
			return err
		}
		after = &read.FileCursor{Created: c.Created, ID: c.ID}
	}
	ctx := r.Context()
	n, size, err := a.reader.AccountFilesTotal(ctx, addr, fileHash)
	if err != nil {
		return err
	}
	if n == 0 {
		return errorf(http.StatusNotFound, "no files found for this address")
	}
	pins, more, err := a.reader.AccountFiles(ctx, addr, fileHash, page, after)
	if err != nil {
		return err
	}
	files := make([]accountFile, 0, len(pins))
	for _, pin := range pins {
		f := accountFile{FileHash: pin.FileHash, Created: isoTime(pin.Created), ItemHash: pin.ItemHash}
		if pin.Edges.File != nil {
			f.Size, f.Type = pin.Edges.File.Size, string(pin.Edges.File.Type)
		}
		files = append(files, f)
	}
	var out map[string]any
	if pg.cursor != nil {
		next, err := nextCursor(more, len(pins), func() any {
			c := read.AccountFileCursor(pins[len(pins)-1])
			return fileCursor{Created: c.Created, ID: c.ID}
		})
		if err != nil {
			return err
		}
		out = cursorEnvelope("files", files, pg, next)
	} else {
		out = pageEnvelope("files", files, pg, n)
	}
	out["address"], out["total_size"] = addr, size
	return writeJSON(w, http.StatusOK, out)
}

// creditFilter reads the credit history filters.
func creditFilter(p *params, addr string) read.CreditHistoryFilter {
	f := read.CreditHistoryFilter{
		Address: addr, TxHash: p.str("tx_hash", ""), Token: p.str("token", ""), Chain: p.str("chain", ""),
		Provider: p.str("provider", ""), Origin: p.str("origin", ""), OriginRef: p.str("origin_ref", ""),
		PaymentMethod: p.str("payment_method", ""), ExcludePaymentMethod: p.str("exclude_payment_method", ""),
		Start: p.epoch("startDate"), End: p.epoch("endDate"),
		Direction: p.oneOf("direction", "", "incoming", "outgoing"),
	}
	if _, ok := p.raw("has_expiration"); ok {
		v := p.boolean("has_expiration", false)
		f.HasExpiration = &v
	}
	return f
}

// creditEntry is an entry of /addresses/{address}/credit_history.
type creditEntry struct {
	Amount           int64   `json:"amount"`
	Price            *string `json:"price"`
	BonusAmount      *int64  `json:"bonus_amount"`
	TxHash           *string `json:"tx_hash"`
	Token            *string `json:"token"`
	Chain            *string `json:"chain"`
	Provider         *string `json:"provider"`
	Origin           *string `json:"origin"`
	OriginRef        *string `json:"origin_ref"`
	PaymentMethod    *string `json:"payment_method"`
	CreditRef        string  `json:"credit_ref"`
	CreditIndex      int     `json:"credit_index"`
	ExpirationDate   *string `json:"expiration_date"`
	MessageTimestamp string  `json:"message_timestamp"`
}

// creditCursor is the credit history's keyset position.
type creditCursor struct {
	Timestamp time.Time `json:"t"`
	Ref       string    `json:"r"`
	Index     int       `json:"i"`
}

// creditHistory serves GET /api/v0/addresses/{address}/credit_history,
// page mode or cursor mode (keyset on message time, credit_ref and
// index); pagination=0 is capped like everywhere.
func (a *API) creditHistory(w http.ResponseWriter, r *http.Request) error {
	addr := r.PathValue("address")
	p := newParams(r.URL.Query(), a.cfg.MaxFilterValues)
	f := creditFilter(p, addr)
	pg := a.paging(p, r, 0)
	desc := p.integer("sort_order", -1, -1, 1) == -1
	p.oneOf("sort_by", "message_timestamp", "message_timestamp")
	if p.err != nil {
		return p.err
	}
	page := read.Page{N: pg.perPage, Desc: desc}
	var after *read.CreditCursor
	if pg.cursor == nil {
		page.Offset = pg.offset()
	} else if *pg.cursor != "" {
		var c creditCursor
		if err := decodeCursor(*pg.cursor, &c, func() bool { return !c.Timestamp.IsZero() && c.Ref != "" }); err != nil {
			return err
		}
		after = &read.CreditCursor{Timestamp: c.Timestamp, Ref: c.Ref, Index: c.Index}
	}
	ctx := r.Context()
	rows, more, err := a.reader.CreditHistory(ctx, f, page, after)
	if err != nil {
		return err
	}
	items := make([]creditEntry, len(rows))
	for i, h := range rows {
		e := creditEntry{Amount: h.Amount, Price: h.Price, BonusAmount: h.BonusAmount, TxHash: h.TxHash, Token: h.Token,
			Chain: h.Chain, Provider: h.Provider, Origin: h.Origin, OriginRef: h.OriginRef, PaymentMethod: h.PaymentMethod,
			CreditRef: h.CreditRef, CreditIndex: h.CreditIndex, MessageTimestamp: isoTime(h.MessageTimestamp)}
		if h.ExpirationDate != nil {
			s := isoTime(*h.ExpirationDate)
			e.ExpirationDate = &s
		}
		items[i] = e
	}
	if pg.cursor != nil {
		next, err := nextCursor(more, len(rows), func() any {
			c := read.CreditHistoryCursor(rows[len(rows)-1])
			return creditCursor{Timestamp: c.Timestamp, Ref: c.Ref, Index: c.Index}
		})
		if err != nil {
			return err
		}
		out := cursorEnvelope("credit_history", items, pg, next)
		out["address"] = addr
		return writeJSON(w, http.StatusOK, out)
	}
	total, err := pageTotal(pg, len(rows), func() (int64, error) {
		s, err := a.reader.CreditHistorySummary(ctx, f)
		return s.Count, err
	})
	if err != nil {
		return err
	}
	out := pageEnvelope("credit_history", items, pg, total)
	out["address"] = addr
	return writeJSON(w, http.StatusOK, out)
}

// creditSummary serves GET /api/v0/addresses/{address}/credit_history/summary.
func (a *API) creditSummary(w http.ResponseWriter, r *http.Request) error {
	addr := r.PathValue("address")
	p := newParams(r.URL.Query(), a.cfg.MaxFilterValues)
	f := creditFilter(p, addr)
	if p.err != nil {
		return p.err
	}
	s, err := a.reader.CreditHistorySummary(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"address": addr, "entry_count": s.Count,
		"total_amount": s.Total, "total_incoming": s.Incoming, "total_outgoing": s.Outgoing})
}

// balanceCursor is the balances list's keyset position.
type balanceCursor struct {
	Address string `json:"a"`
	Chain   string `json:"c"`
}

// balances serves GET /api/v0/balances: chain-wide balances by address
// then chain, page mode or cursor mode (keyset on address and chain).
func (a *API) balances(w http.ResponseWriter, r *http.Request) error {
	p := newParams(r.URL.Query(), a.cfg.MaxFilterValues)
	f := read.BalanceFilter{Chains: p.list("chains", nil), MinBalance: p.str("min_balance", "")}
	if f.MinBalance != "" && !decimalText.MatchString(f.MinBalance) {
		p.bad("min_balance", "must be a decimal number")
	}
	pg := a.paging(p, r, 100)
	if p.err != nil {
		return p.err
	}
	page := read.Page{N: pg.perPage}
	if pg.cursor == nil {
		page.Offset = pg.offset()
	} else if *pg.cursor != "" {
		var c balanceCursor
		if err := decodeCursor(*pg.cursor, &c, func() bool { return c.Address != "" }); err != nil {
			return err
		}
		page.After = &read.KeyCursor{A: c.Address, B: c.Chain}
	}
	ctx := r.Context()
	rows, more, err := a.reader.ChainBalances(ctx, f, page)
	if err != nil {
		return err
	}
	type item struct {
		Address string      `json:"address"`
		Balance json.Number `json:"balance"`
		Chain   string      `json:"chain"`
	}
	items := make([]item, len(rows))
	for i, b := range rows {
		items[i] = item{Address: b.Address, Balance: decimal(b.Balance), Chain: b.Chain}
	}
	if pg.cursor != nil {
		next, err := nextCursor(more, len(rows), func() any {
			last := rows[len(rows)-1]
			return balanceCursor{Address: last.Address, Chain: last.Chain}
		})
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, cursorEnvelope("balances", items, pg, next))
	}
	total, err := pageTotal(pg, len(rows), func() (int64, error) {
		n, err := a.reader.CountChainBalances(ctx, f)
		return int64(n), err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, pageEnvelope("balances", items, pg, total))
}

// creditBalanceCursor is the credit balances list's keyset position.
type creditBalanceCursor struct {
	Address string `json:"a"`
}

// creditBalances serves GET /api/v0/credit_balances: each address's
// unexpired credits, by address, page mode or cursor mode (keyset on the
// address).
func (a *API) creditBalances(w http.ResponseWriter, r *http.Request) error {
	p := newParams(r.URL.Query(), a.cfg.MaxFilterValues)
	min := p.integer("min_balance", 1, 0, 1<<62)
	pg := a.paging(p, r, 100)
	if p.err != nil {
		return p.err
	}
	page := read.Page{N: pg.perPage}
	var after string
	if pg.cursor == nil {
		page.Offset = pg.offset()
	} else if *pg.cursor != "" {
		var c creditBalanceCursor
		if err := decodeCursor(*pg.cursor, &c, func() bool { return c.Address != "" }); err != nil {
			return err
		}
		after = c.Address
	}
	ctx := r.Context()
	now := time.Now()
	rows, more, err := a.reader.CreditBalances(ctx, now, min, page, after)
	if err != nil {
		return err
	}
	if pg.cursor != nil {
		next, err := nextCursor(more, len(rows), func() any { return creditBalanceCursor{Address: rows[len(rows)-1].Address} })
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, cursorEnvelope("credit_balances", nonNil(rows), pg, next))
	}
	total, err := pageTotal(pg, len(rows), func() (int64, error) { return a.reader.CountCreditBalances(ctx, now, min) })
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, pageEnvelope("credit_balances", nonNil(rows), pg, total))
}

// statsV0 serves GET /api/v0/addresses/stats.json?addresses[]=…: each
// address's processed messages by type, from the counters.
func (a *API) statsV0(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var addrs []string
	for _, n := range []string{"addresses[]", "addresses"} {
		addrs = append(addrs, q[n]...)
	}
	if len(addrs) > a.cfg.MaxFilterValues {
		return badParam("addresses", "%d values, at most %d allowed", len(addrs), a.cfg.MaxFilterValues)
	}
	stats, err := a.reader.Stats(r.Context(), addrs)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"data": stats})
}

// statsCursor is the v1 stats list's keyset position: the last sender's
// counter.
type statsCursor struct {
	Count int64  `json:"n"`
	Key   string `json:"k"`
}

// statsV1 serves GET /api/v1/addresses/stats.json: senders by their
// message count (total or one type), page mode or cursor mode (keyset on
// the count and the counter key).
func (a *API) statsV1(w http.ResponseWriter, r *http.Request) error {
	p := newParams(r.URL.Query(), a.cfg.MaxFilterValues)
	o := read.StatsOrder{Contains: p.str("addressContains", "")}
	if len(o.Contains) > 66 {
		p.bad("addressContains", "at most 66 characters")
	}
	sortBy := p.oneOf("sortBy", "total", "total", "post", "aggregate", "store", "forget", "program", "instance")
	if sortBy != "total" {
		o.Type = sortBy
	}
	o.Desc = p.integer("sortOrder", -1, -1, 1) == -1
	pg := a.paging(p, r, 20)
	if p.err != nil {
		return p.err
	}
	offset := 0
	var after *read.StatsCursor
	if pg.cursor == nil {
		offset = pg.offset()
	} else if *pg.cursor != "" {
		var c statsCursor
		if err := decodeCursor(*pg.cursor, &c, func() bool { return c.Key != "" }); err != nil {
			return err
		}
		after = &read.StatsCursor{Count: c.Count, Key: c.Key}
	}
	ctx := r.Context()
	rows, more, err := a.reader.StatsSenders(ctx, o, pg.perPage, offset, after)
	if err != nil {
		return err
	}
	senders := make([]string, len(rows))
	for i, s := range rows {
		senders[i] = s.Sender
	}
	stats, err := a.reader.Stats(ctx, senders)
	if err != nil {
		return err
	}
	data := make([]map[string]any, len(senders))
	for i, s := range senders {
		m := map[string]any{"address": s}
		for k, v := range stats[s] {
			m[k] = v
		}
		m["total"] = stats[s]["messages"]
		data[i] = m
	}
	if pg.cursor != nil {
		next, err := nextCursor(more, len(rows), func() any {
			last := rows[len(rows)-1]
			return statsCursor{Count: last.Count, Key: last.Key}
		})
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, cursorEnvelope("data", data, pg, next))
	}
	total, err := pageTotal(pg, len(senders), func() (int64, error) {
		n, err := a.reader.CountStatsSenders(ctx, o)
		return int64(n), err
	})
	if err != nil {
		return err
	}
	out := pageEnvelope("data", data, pg, total)
	out["pagination_item"] = "addresses"
	return writeJSON(w, http.StatusOK, out)
}
