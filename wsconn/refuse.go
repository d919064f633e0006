package wsconn

import (
	"net/http"
	"time"

	"github.com/gobwas/ws"
)

// Refuse completes the handshake, choosing the client's first
// subprotocol, and closes the websocket at once with code and reason
// (e.g. CloseTryAgainLater for a websocket over a limit), which
// websocket clients report as such, where a refused handshake would only
// be a failed connection. A bad handshake is answered by the upgrader.
func Refuse(w http.ResponseWriter, r *http.Request, code int, reason string) {
	u := ws.HTTPUpgrader{Protocol: func(string) bool { return true }, Timeout: closeTimeout}
	conn, _, _, err := u.Upgrade(r, w)
	if err != nil {
		return // the upgrader answered the bad handshake
	}
	defer conn.Close()
	_ = conn.SetWriteDeadline(time.Now().Add(closeTimeout))
	body := ws.NewCloseFrameBody(ws.StatusCode(code), reason)
	_ = ws.WriteFrame(conn, ws.NewCloseFrame(body))
	// Wait briefly for the client's close frame, so that ours is read
	// before the TCP connection ends.
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	_, _ = ws.ReadFrame(conn)
}
