package ipfs

import (
	"context"
	"errors"
	"fmt"
	"io"

	iface "github.com/ipfs/kubo/core/coreiface"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// PubSubMessage is one message received on a kubo pubsub topic.
type PubSubMessage struct {
	// From is the peer id of the kubo node that published it.
	From string
	// Data is the payload.
	Data []byte
}

// Subscription is a kubo pubsub subscription: Next returns its messages
// in order of arrival until Close or the subscribing context ends.
type Subscription struct {
	sub    iface.PubSubSubscription
	s      *Service
	cancel context.CancelFunc
}

// Next waits for the next message. It returns ErrUnavailable (wrapped)
// when the daemon closed the stream, and ctx's error when ctx ends.
func (u *Subscription) Next(ctx context.Context) (PubSubMessage, error) {
	m, err := u.sub.Next(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return PubSubMessage{}, ctx.Err()
		}
		if errors.Is(err, io.EOF) {
			return PubSubMessage{}, fmt.Errorf("kubo pubsub: stream ended: %w", ErrUnavailable)
		}
		return PubSubMessage{}, fmt.Errorf("kubo pubsub: %w: %w", ErrUnavailable, err)
	}
	return PubSubMessage{From: m.From().String(), Data: m.Data()}, nil
}

// Close ends the subscription. It cancels the subscription's own context
// rather than calling the kubo client's Close: in kubo v0.43.0's
// client/rpc, pubsubSub.Close writes the field its reader goroutine reads
// (a data race); ending the request's context stops that goroutine and
// closes the stream without it.
func (u *Subscription) Close() error {
	u.cancel()
	return nil
}

// Subscribe subscribes to a kubo pubsub topic (the daemon must run online
// with pubsub enabled). The subscription lives until Close or until ctx
// ends.
func (s *Service) Subscribe(ctx context.Context, topic string) (*Subscription, error) {
	if s.kubo == nil {
		return nil, fmt.Errorf("pubsub subscribe %s: %s: %w", topic, kuboNotConfigured, ErrUnavailable)
	}
	sctx, cancel := context.WithCancel(ctx)
	sub, err := s.kubo.PubSub().Subscribe(sctx, topic)
	if err != nil {
		cancel()
		return nil, s.kuboError(ctx, "pubsub subscribe "+topic, err)
	}
	return &Subscription{sub: sub, s: s, cancel: cancel}, nil
}

// Publish publishes data on a kubo pubsub topic, within the fetch timeout.
func (s *Service) Publish(ctx context.Context, topic string, data []byte) error {
	if s.kubo == nil {
		return fmt.Errorf("pubsub publish %s: %s: %w", topic, kuboNotConfigured, ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.FetchTimeout)
	defer cancel()
	if err := s.kubo.PubSub().Publish(ctx, topic, data); err != nil {
		return s.kuboError(ctx, "pubsub publish "+topic, err)
	}
	return nil
}

// SwarmConnect asks kubo to connect to a peer given by a multiaddr ending
// in /p2p/<peer id>.
func (s *Service) SwarmConnect(ctx context.Context, addr string) error {
	if s.kubo == nil {
		return fmt.Errorf("swarm connect: %s: %w", kuboNotConfigured, ErrUnavailable)
	}
	a, err := ma.NewMultiaddr(addr)
	if err != nil {
		return fmt.Errorf("swarm connect %q: %w", addr, err)
	}
	pi, err := peer.AddrInfoFromP2pAddr(a)
	if err != nil {
		return fmt.Errorf("swarm connect %q: %w", addr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.FetchTimeout)
	defer cancel()
	if err := s.kubo.Swarm().Connect(ctx, *pi); err != nil {
		return s.kuboError(ctx, "swarm connect", err)
	}
	return nil
}

// Identity is what kubo says about itself (`ipfs id`).
type Identity struct {
	// ID is the daemon's peer id.
	ID string `json:"ID"`
	// Addresses are its swarm multiaddrs, each ending in /p2p/<ID>.
	Addresses []string `json:"Addresses"`
}

// ID returns kubo's peer id and swarm addresses.
func (s *Service) ID(ctx context.Context) (Identity, error) {
	var out Identity
	if s.kubo == nil {
		return out, fmt.Errorf("id: %s: %w", kuboNotConfigured, ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StatTimeout)
	defer cancel()
	if err := s.kubo.Request("id").Exec(ctx, &out); err != nil {
		return out, s.kuboError(ctx, "id", err)
	}
	return out, nil
}
