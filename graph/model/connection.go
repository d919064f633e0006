package model

import (
	"context"
	"sync"
)

// Counter computes a connection's total once, on demand: totalCount and
// countIsExact share one computation, and lists whose total is not asked
// for never count.
type Counter struct {
	once  sync.Once
	fn    func(ctx context.Context) (int64, bool, error)
	n     int64
	exact bool
	err   error
}

// NewCounter returns a Counter computing with fn: the total, and whether
// it is exact.
func NewCounter(fn func(ctx context.Context) (int64, bool, error)) *Counter {
	return &Counter{fn: fn}
}

func (c *Counter) get(ctx context.Context) (int64, bool, error) {
	c.once.Do(func() { c.n, c.exact, c.err = c.fn(ctx) })
	return c.n, c.exact, c.err
}

// TotalCount is the number of items matching the list's filter.
func (c *Counter) TotalCount(ctx context.Context) (int, error) {
	n, _, err := c.get(ctx)
	return int(n), err
}

// CountIsExact reports whether TotalCount is exact.
func (c *Counter) CountIsExact(ctx context.Context) (bool, error) {
	_, exact, err := c.get(ctx)
	return exact, err
}

// MessageConnection is a page of messages.
type MessageConnection struct {
	*Counter
	Edges    []*MessageEdge
	PageInfo *PageInfo
}

// PostConnection is a page of posts.
type PostConnection struct {
	*Counter
	Edges    []*PostEdge
	PageInfo *PageInfo
}

// AggregateConnection is a page of aggregates.
type AggregateConnection struct {
	*Counter
	Edges    []*AggregateEdge
	PageInfo *PageInfo
}

// AggregateElementConnection is a page of aggregate elements.
type AggregateElementConnection struct {
	*Counter
	Edges    []*AggregateElementEdge
	PageInfo *PageInfo
}

// FileConnection is a page of files.
type FileConnection struct {
	*Counter
	Edges    []*FileEdge
	PageInfo *PageInfo
}

// VMConnection is a page of VMs.
type VMConnection struct {
	*Counter
	Edges    []*VMEdge
	PageInfo *PageInfo
}

// ChannelConnection is a page of channels.
type ChannelConnection struct {
	*Counter
	Edges    []*ChannelEdge
	PageInfo *PageInfo
}

// Account is an address; its fields resolve on demand.
type Account struct {
	Address string
}

// Channel is a channel name; its message count resolves on demand.
type Channel struct {
	Name string
}
