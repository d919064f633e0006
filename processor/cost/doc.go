// Package cost is the pricing model of Aleph resources: the built-in
// default pricing and settings, parsing of the pricing and settings
// aggregates, product selection, the cost formulas of STORE, PROGRAM,
// INSTANCE and V-PROGRAM messages, and the payment rules (free messages,
// cut-offs) that decide whether a balance check applies.
//
// Every amount is computed with the reference node's arithmetic, Python's
// decimal module in its default context: 28 significant digits,
// ROUND_HALF_EVEN for intermediate results, per-hour prices divided by 3600
// before they are multiplied, each component then floored to 18 decimals.
// The results are therefore the same strings on every node. The package
// reads no database: callers pass the aggregates' content and resolve file
// sizes through FileSizer.
package cost
