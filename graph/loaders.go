package graph

import (
	"context"
	"sync"
	"time"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/accountcost"
	"github.com/alephql/alephql/ent/aggregateelement"
	"github.com/alephql/alephql/ent/filepin"
	"github.com/alephql/alephql/ent/filetag"
	"github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/ent/post"
	"github.com/alephql/alephql/ent/vm"
	"github.com/alephql/alephql/ent/vmversion"
	"github.com/alephql/alephql/ent/vmvolume"
	"github.com/alephql/alephql/graph/model"
	"github.com/alephql/alephql/read"
)

// loaders batch every lookup that is not the list itself: one SQL
// statement per edge kind per batch, whatever the page size. A fresh set is
// made per operation (see withLoaders), so caches never outlive a request.
// Each loader is built on first use: most operations use one or two kinds,
// and a subscription holds its set for as long as it lives (an idle
// subscriber kept thirteen built loaders, about 5 KiB, for nothing).
type loaders struct {
	r     *Resolver
	cache bool

	messageL       lazyLoader[*ent.Message]
	statusL        lazyLoader[*model.MessageStatusInfo]
	confirmationsL lazyLoader[[]*model.Confirmation]
	postL          lazyLoader[*ent.Post]
	amendsL        lazyLoader[[]*ent.Post]
	elementL       lazyLoader[*ent.AggregateElement]
	fileL          lazyLoader[*ent.File]
	pinsL          lazyLoader[[]*ent.FilePin]
	fileTagsL      lazyLoader[[]*ent.FileTag]
	vmL            lazyLoader[*ent.VM]
	volumesL       lazyLoader[[]*ent.VMVolume]
	versionL       lazyLoader[string]
	costsL         lazyLoader[[]*ent.AccountCost]
}

// lazyLoader is a dataloader built on first use.
type lazyLoader[V any] struct {
	once sync.Once
	l    *dataloader.Loader[string, V]
}

// get returns z's loader, building it with fetch on first use.
func (z *lazyLoader[V]) get(l *loaders, fetch func(*Resolver, context.Context, []string) (map[string]V, error)) *dataloader.Loader[string, V] {
	z.once.Do(func() {
		r := l.r
		z.l = newLoader(l.cache, r.opts.LoaderWait, maxBatch, func(ctx context.Context, keys []string) (map[string]V, error) {
			return fetch(r, ctx, keys)
		})
	})
	return z.l
}

func (l *loaders) message() *dataloader.Loader[string, *ent.Message] {
	return l.messageL.get(l, (*Resolver).loadMessages)
}

func (l *loaders) status() *dataloader.Loader[string, *model.MessageStatusInfo] {
	return l.statusL.get(l, (*Resolver).loadStatuses)
}

func (l *loaders) confirmations() *dataloader.Loader[string, []*model.Confirmation] {
	return l.confirmationsL.get(l, (*Resolver).loadConfirmations)
}

func (l *loaders) post() *dataloader.Loader[string, *ent.Post] {
	return l.postL.get(l, (*Resolver).postsByHash)
}

func (l *loaders) amends() *dataloader.Loader[string, []*ent.Post] {
	return l.amendsL.get(l, (*Resolver).loadAmends)
}

func (l *loaders) element() *dataloader.Loader[string, *ent.AggregateElement] {
	return l.elementL.get(l, (*Resolver).loadElements)
}

func (l *loaders) file() *dataloader.Loader[string, *ent.File] {
	return l.fileL.get(l, (*Resolver).filesByHash)
}

func (l *loaders) pins() *dataloader.Loader[string, []*ent.FilePin] {
	return l.pinsL.get(l, (*Resolver).loadPins)
}

func (l *loaders) fileTags() *dataloader.Loader[string, []*ent.FileTag] {
	return l.fileTagsL.get(l, (*Resolver).loadFileTags)
}

func (l *loaders) vm() *dataloader.Loader[string, *ent.VM] {
	return l.vmL.get(l, (*Resolver).loadVMs)
}

func (l *loaders) volumes() *dataloader.Loader[string, []*ent.VMVolume] {
	return l.volumesL.get(l, (*Resolver).loadVolumes)
}

func (l *loaders) version() *dataloader.Loader[string, string] {
	return l.versionL.get(l, (*Resolver).loadVersions)
}

func (l *loaders) costs() *dataloader.Loader[string, []*ent.AccountCost] {
	return l.costsL.get(l, (*Resolver).loadCosts)
}

type loadersKey struct{}

// withLoaders returns ctx with a fresh set of loaders. Subscriptions get
// loaders without a cache (each event must see current rows) but still
// batch within an event.
func (r *Resolver) withLoaders(ctx context.Context, cache bool) context.Context {
	return context.WithValue(ctx, loadersKey{}, r.newLoaders(cache))
}

// loadersFor returns the loaders of ctx, or a fresh uncached set (for calls
// outside an operation, e.g. tests of a resolver).
func (r *Resolver) loadersFor(ctx context.Context) *loaders {
	if l, ok := ctx.Value(loadersKey{}).(*loaders); ok {
		return l
	}
	return r.newLoaders(false)
}

func newLoader[V any](cache bool, wait time.Duration, max int, fetch func(ctx context.Context, keys []string) (map[string]V, error)) *dataloader.Loader[string, V] {
	batch := func(ctx context.Context, keys []string) []*dataloader.Result[V] {
		out := make([]*dataloader.Result[V], len(keys))
		got, err := fetch(ctx, keys)
		for i, k := range keys {
			if err != nil {
				out[i] = &dataloader.Result[V]{Error: err}
				continue
			}
			out[i] = &dataloader.Result[V]{Data: got[k]} // missing: zero value
		}
		return out
	}
	opts := []dataloader.Option[string, V]{dataloader.WithWait[string, V](wait), dataloader.WithBatchCapacity[string, V](max)}
	if !cache {
		opts = append(opts, dataloader.WithCache[string, V](&dataloader.NoCache[string, V]{}))
	}
	return dataloader.NewBatchedLoader(batch, opts...)
}

func byKey[V any](rows []V, key func(V) string) map[string]V {
	m := make(map[string]V, len(rows))
	for _, v := range rows {
		m[key(v)] = v
	}
	return m
}

func groupBy[V any](rows []V, key func(V) string) map[string][]V {
	m := map[string][]V{}
	for _, v := range rows {
		m[key(v)] = append(m[key(v)], v)
	}
	return m
}

// maxBatch bounds the keys of one statement (bind parameter limits).
const maxBatch = 500

// newLoaders returns an empty set: each loader is built on first use.
func (r *Resolver) newLoaders(cache bool) *loaders {
	return &loaders{r: r, cache: cache}
}

func (r *Resolver) loadMessages(ctx context.Context, keys []string) (map[string]*ent.Message, error) {
	rows, err := r.client.Message.Query().Where(message.IDIn(keys...)).All(ctx)
	return byKey(rows, func(m *ent.Message) string { return m.ID }), err
}

func (r *Resolver) loadConfirmations(ctx context.Context, keys []string) (map[string][]*model.Confirmation, error) {
	rows, err := read.Confirmations(ctx, r.client, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]*model.Confirmation, len(rows))
	for h, cs := range rows {
		for _, c := range cs {
			out[h] = append(out[h], &model.Confirmation{Chain: c.Chain, TxHash: c.TxHash, Height: int(c.Height), Time: c.Time})
		}
	}
	return out, nil
}

func (r *Resolver) loadAmends(ctx context.Context, keys []string) (map[string][]*ent.Post, error) {
	rows, err := r.client.Post.Query().Where(post.AmendsIn(keys...)).Order(ent.Asc(post.FieldCreationDatetime), ent.Asc(post.FieldID)).All(ctx)
	return groupBy(rows, func(p *ent.Post) string { return *p.Amends }), err
}

func (r *Resolver) loadElements(ctx context.Context, keys []string) (map[string]*ent.AggregateElement, error) {
	rows, err := r.client.AggregateElement.Query().Where(aggregateelement.IDIn(keys...)).All(ctx)
	return byKey(rows, func(e *ent.AggregateElement) string { return e.ID }), err
}

func (r *Resolver) loadPins(ctx context.Context, keys []string) (map[string][]*ent.FilePin, error) {
	rows, err := r.client.FilePin.Query().Where(filepin.FileHashIn(keys...)).Order(ent.Asc(filepin.FieldCreated), ent.Asc(filepin.FieldID)).All(ctx)
	return groupBy(rows, func(p *ent.FilePin) string { return p.FileHash }), err
}

func (r *Resolver) loadFileTags(ctx context.Context, keys []string) (map[string][]*ent.FileTag, error) {
	rows, err := r.client.FileTag.Query().Where(filetag.FileHashIn(keys...)).Order(ent.Asc(filetag.FieldID)).All(ctx)
	return groupBy(rows, func(t *ent.FileTag) string { return t.FileHash }), err
}

func (r *Resolver) loadVMs(ctx context.Context, keys []string) (map[string]*ent.VM, error) {
	rows, err := r.client.VM.Query().Where(vm.IDIn(keys...)).All(ctx)
	return byKey(rows, func(v *ent.VM) string { return v.ID }), err
}

func (r *Resolver) loadVolumes(ctx context.Context, keys []string) (map[string][]*ent.VMVolume, error) {
	rows, err := r.client.VMVolume.Query().Where(vmvolume.VMHashIn(keys...)).
		Order(ent.Asc(vmvolume.FieldKind), ent.Asc(vmvolume.FieldPosition)).All(ctx)
	return groupBy(rows, func(v *ent.VMVolume) string { return v.VMHash }), err
}

func (r *Resolver) loadVersions(ctx context.Context, keys []string) (map[string]string, error) {
	rows, err := r.client.VMVersion.Query().Where(vmversion.IDIn(keys...)).All(ctx)
	out := map[string]string{}
	for _, v := range rows {
		out[v.ID] = v.CurrentVersion
	}
	return out, err
}

func (r *Resolver) loadCosts(ctx context.Context, keys []string) (map[string][]*ent.AccountCost, error) {
	rows, err := r.client.AccountCost.Query().Where(accountcost.ItemHashIn(keys...)).
		Order(ent.Asc(accountcost.FieldType), ent.Asc(accountcost.FieldName)).All(ctx)
	return groupBy(rows, func(a *ent.AccountCost) string { return a.ItemHash }), err
}

// loadStatuses reads message_status rows with, for the rejected, forgotten,
// removing and removed ones, their records (read.Statuses).
func (r *Resolver) loadStatuses(ctx context.Context, keys []string) (map[string]*model.MessageStatusInfo, error) {
	rows, err := read.Statuses(ctx, r.client, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*model.MessageStatusInfo, len(rows))
	for h, s := range rows {
		info := &model.MessageStatusInfo{
			Hash: s.Hash, Status: enumOf[model.MessageStatus](string(s.Status)),
			ReceptionTime: s.ReceptionTime, UpdatedAt: s.UpdatedAt,
		}
		if s.Rejected != nil {
			info.Rejection = r.rejection(s.Rejected)
		}
		if f := s.Forgotten; f != nil {
			by := f.ForgottenBy
			if by == nil {
				by = []string{}
			}
			info.Forgotten = &model.ForgetRecord{ForgottenBy: by, ForgottenAt: f.ForgottenAt}
		}
		if rm := s.Removed; rm != nil {
			info.RemovedAt, info.RemovingSince = rm.RemovedAt, rm.RemovingSince
			if rm.Reason != nil {
				reason := enumOf[model.RemovalReason](string(*rm.Reason))
				info.RemovalReason = &reason
			}
		}
		out[h] = info
	}
	return out, nil
}

// rejection maps a rejected_messages row to the API type.
func (r *Resolver) rejection(rj *ent.RejectedMessage) *model.Rejection {
	out := &model.Rejection{ErrorCode: rj.ErrorCode, Details: rj.Details, RejectedAt: rj.RejectedAt}
	if name, ok := r.opts.ErrorNames[rj.ErrorCode]; ok {
		out.ErrorName = &name
	}
	return out
}
