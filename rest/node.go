package rest

import (
	"encoding/json"
	"net/http"
	"time"
)

// Defaults of NodeInfo.
const (
	DefaultMaxChannels                = 10000
	DefaultMaxFileSize                = 100 << 20
	DefaultMaxUnauthenticatedFileSize = 25 << 20
	DefaultMaxIPFSUploadSize          = 1 << 30
	DefaultMaxCARSize                 = 4 << 30
	DefaultMetricsWindow              = 14 * 24 * time.Hour
	DefaultMaxMetrics                 = 10000
)

// NodeInfo describes the node to the info, version and storage-limit
// routes. Zero fields take their defaults.
type NodeInfo struct {
	// Version is the node's version ("dev" if empty).
	Version string
	// MultiAddresses are the node's public p2p addresses.
	MultiAddresses []string
	// MaxChannels caps the lists served without paging: channels/list.json
	// and programs/on/message. Default DefaultMaxChannels.
	MaxChannels int
	// Storage limits reported by storage/limits.json (bytes).
	MaxFileSize, MaxUnauthenticatedFileSize, MaxIPFSUploadSize, MaxCARSize int64
	// MetricsWindow is the default window of core|compute/{id}/metrics;
	// MaxMetrics caps its rows.
	MetricsWindow time.Duration
	MaxMetrics    int
	// AdminPublicKey is the hex secp256k1 public key admin tokens
	// (X-Auth-Token) are checked against; "" disables the admin routes.
	AdminPublicKey string
	// MaxTokenAge bounds an admin token's age (and how early it may be).
	// Default 300 s.
	MaxTokenAge time.Duration
}

func (n *NodeInfo) defaults() {
	set := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	if n.Version == "" {
		n.Version = "dev"
	}
	if n.MaxChannels == 0 {
		n.MaxChannels = DefaultMaxChannels
	}
	set(&n.MaxFileSize, DefaultMaxFileSize)
	set(&n.MaxUnauthenticatedFileSize, DefaultMaxUnauthenticatedFileSize)
	set(&n.MaxIPFSUploadSize, DefaultMaxIPFSUploadSize)
	set(&n.MaxCARSize, DefaultMaxCARSize)
	if n.MetricsWindow == 0 {
		n.MetricsWindow = DefaultMetricsWindow
	}
	if n.MaxTokenAge == 0 {
		n.MaxTokenAge = 300 * time.Second
	}
	if n.MaxMetrics == 0 {
		n.MaxMetrics = DefaultMaxMetrics
	}
}

// version serves GET /version and /api/v0/version.
func (a *API) version(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"version": a.cfg.Node.Version})
}

// publicInfo serves GET /api/v0/info/public.json.
func (a *API) publicInfo(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]any{"node_multi_addresses": nonNil(a.cfg.Node.MultiAddresses)})
}

// storageLimits serves GET /api/v0/storage/limits.json.
func (a *API) storageLimits(w http.ResponseWriter, _ *http.Request) error {
	n := a.cfg.Node
	return writeJSON(w, http.StatusOK, map[string]any{
		"storage": map[string]int64{"max_file_size": n.MaxFileSize, "max_unauthenticated_upload_file_size": n.MaxUnauthenticatedFileSize},
		"ipfs": map[string]int64{"max_upload_file_size": n.MaxIPFSUploadSize, "max_upload_car_size": n.MaxCARSize,
			"max_unauthenticated_upload_file_size": n.MaxUnauthenticatedFileSize},
	})
}

// nodeMetrics serves GET /api/v0/core|compute/{id}/metrics: the node's
// metrics as column arrays (item_hash, measured_at, then every measured
// key); 404 when none in the window (default the last MetricsWindow).
func (a *API) nodeMetrics(nodeType string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		p := newParams(r.URL.Query(), a.cfg.MaxFilterValues)
		now := time.Now().UTC()
		start, end := now.Add(-a.cfg.Node.MetricsWindow), now
		if t := p.epoch("start_date"); t != nil {
			start = *t
		}
		if t := p.epoch("end_date"); t != nil {
			end = *t
		}
		sort := p.oneOf("sort", "1", "1", "-1", "asc", "desc")
		if p.err != nil {
			return p.err
		}
		rows, err := a.reader.NodeMetrics(r.Context(), nodeType, r.PathValue("id"), start, end,
			sort == "-1" || sort == "desc", a.cfg.Node.MaxMetrics)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return errorf(http.StatusNotFound, "no metric found for this node id")
		}
		cols := map[string][]any{"item_hash": make([]any, len(rows)), "measured_at": make([]any, len(rows))}
		for i, m := range rows {
			cols["item_hash"][i] = m.ItemHash
			cols["measured_at"][i] = epochOf(m.MeasuredAt)
			var data map[string]any
			_ = json.Unmarshal(m.Data, &data)
			for k, v := range data {
				if k == "item_hash" || k == "measured_at" || k == "node_id" {
					continue
				}
				if cols[k] == nil {
					cols[k] = make([]any, len(rows))
				}
				cols[k][i] = v
			}
		}
		return writeJSON(w, http.StatusOK, map[string]any{"metrics": cols})
	}
}

// metricsJSON serves GET /metrics.json: the reference node's status keys,
// from this node's own counts (no reference-node comparison, no
// websocket or store-fetch gauges).
func (a *API) metricsJSON(w http.ResponseWriter, r *http.Request) error {
	s, err := a.reader.Status(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"pyaleph_build_info":                              map[string]string{"version": a.cfg.Node.Version},
		"pyaleph_status_peers_total":                      s.Peers,
		"pyaleph_status_sync_messages_total":              s.Messages,
		"pyaleph_status_sync_permanent_files_total":       s.PermanentFiles,
		"pyaleph_status_sync_pending_messages_total":      s.PendingMessages,
		"pyaleph_status_sync_pending_txs_total":           s.PendingTxs,
		"pyaleph_status_chain_eth_last_committed_height":  s.ETHHeight,
		"pyaleph_processing_pending_messages_tasks_total": s.PendingMessages,
	})
}
