// Package chains verifies Aleph message signatures for every chain the
// protocol supports, and signs messages for tests and tools.
//
// Every chain signs the same verification buffer,
// "CHAIN\nSENDER\nTYPE\nITEM_HASH" (see Signed.Buffer), but each wraps,
// hashes and encodes it in its own way. Each scheme lives in one file that
// registers its chains with register in an init function, so adding a chain
// is adding one file. Verify dispatches on Signed.Chain.
//
// The package is a leaf: it imports no other package of the project.
package chains
