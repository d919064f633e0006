package rest

import (
	"net/http"

	"github.com/alephql/alephql/ent"
)

// fileRef is the by-ref and by-message-hash answer.
type fileRef struct {
	Ref         string `json:"ref"`
	Owner       string `json:"owner"`
	FileHash    string `json:"file_hash"`
	DownloadURL string `json:"download_url"`
	Size        int64  `json:"size"`
}

func downloadURL(hash string) string { return "/api/v0/storage/raw/" + hash }

func fileSize(f *ent.File) int64 {
	if f == nil {
		return 0
	}
	return f.Size
}

// fileByMessage serves GET /api/v0/storage/by-message-hash/{hash}: the
// file a STORE message pins.
func (a *API) fileByMessage(w http.ResponseWriter, r *http.Request) error {
	hash := r.PathValue("hash")
	if !isItemHash(hash) {
		return errorf(http.StatusBadRequest, "invalid message hash")
	}
	pin, err := a.reader.MessagePin(r.Context(), hash)
	if err != nil {
		return err
	}
	if pin == nil {
		return errorf(http.StatusNotFound, "no file found for this message")
	}
	ref := hash
	if pin.Ref != nil && *pin.Ref != "" {
		ref = *pin.Ref
	}
	owner := ""
	if pin.Owner != nil {
		owner = *pin.Owner
	}
	return writeJSON(w, http.StatusOK, fileRef{Ref: ref, Owner: owner, FileHash: pin.FileHash,
		DownloadURL: downloadURL(pin.FileHash), Size: fileSize(pin.Edges.File)})
}

// fileByRef serves GET /api/v0/storage/by-ref/{ref} (a hash reference)
// and /by-ref/{address}/{ref} (a text reference of an address): the
// latest version the file tag points at.
func (a *API) fileByRef(w http.ResponseWriter, r *http.Request) error {
	ref, tag := r.PathValue("ref"), r.PathValue("ref")
	if addr := r.PathValue("address"); addr != "" {
		tag = addr + "/" + ref
	} else if !isItemHash(ref) {
		return errorf(http.StatusBadRequest, "a text reference needs its address: /by-ref/{address}/{ref}")
	}
	t, err := a.reader.FileTag(r.Context(), tag)
	if err != nil {
		return err
	}
	if t == nil {
		return errorf(http.StatusNotFound, "no file found for this reference")
	}
	return writeJSON(w, http.StatusOK, fileRef{Ref: ref, Owner: t.Owner, FileHash: t.FileHash,
		DownloadURL: downloadURL(t.FileHash), Size: fileSize(t.Edges.File)})
}

// fileMetadata serves GET /api/v0/storage/metadata/{hash}.
func (a *API) fileMetadata(w http.ResponseWriter, r *http.Request) error {
	hash := r.PathValue("hash")
	if !isItemHash(hash) {
		return errorf(http.StatusBadRequest, "invalid file hash")
	}
	f, err := a.reader.File(r.Context(), hash)
	if err != nil {
		return err
	}
	if f == nil {
		return errorf(http.StatusNotFound, "file not found")
	}
	return writeJSON(w, http.StatusOK, map[string]any{"file_hash": f.ID, "type": string(f.Type), "size": f.Size,
		"download_url": downloadURL(f.ID)})
}

// filePinCount serves GET /api/v0/storage/count/{hash}: the number of
// pins of every type, a bare JSON integer.
func (a *API) filePinCount(w http.ResponseWriter, r *http.Request) error {
	hash := r.PathValue("hash")
	if !isItemHash(hash) {
		return errorf(http.StatusBadRequest, "invalid file hash")
	}
	n, err := a.reader.FilePinCount(r.Context(), hash)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, n)
}
