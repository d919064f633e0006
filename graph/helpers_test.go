package graph_test

import (
	"testing"

	"entgo.io/ent/dialect/sql"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/countkey"
	"github.com/alephql/alephql/ent/messagecounter"
)

// bumpCounters adds one to every counter of a message's dimensions, as
// the pipeline does in the transaction that processes it.
func bumpCounters(t *testing.T, c *ent.Client, dims map[string]string) {
	t.Helper()
	for _, k := range countkey.Keys(dims) {
		err := c.MessageCounter.Create().SetID(k).SetCount(1).
			OnConflict(sql.ConflictColumns(messagecounter.FieldID), sql.ResolveWith(func(u *sql.UpdateSet) {
				u.Set(messagecounter.FieldCount, sql.Expr(u.Table().C(messagecounter.FieldCount)+" + excluded."+messagecounter.FieldCount))
			})).Exec(t.Context())
		require.NoError(t, err)
	}
}
