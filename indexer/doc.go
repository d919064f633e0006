// Package indexer fills the node from outside sources. Its root package
// holds what every source shares: the chain transaction model (ChainTx,
// Cursor, Block), the small interfaces the sources feed (ChainSink and
// TxSink, implemented by the processor), the expansion of chain
// transactions into messages (Expander: the three protocols of the sync
// contract) and its metrics. Subpackages hold the sources themselves:
// indexer/evm reads the sync contract of an EVM chain.
//
// Data flows one way: sources -> processor -> ent. This package imports
// neither the processor nor the database; cmd/alephql wires them.
package indexer
