package s3

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// CompletedPart names an uploaded part to CompleteMultipartUpload.
type CompletedPart struct {
	// PartNumber is the part's number, 1 to MaxPartNumber.
	PartNumber int
	// ETag is the ETag UploadPart returned, with or without quotes.
	ETag string
}

// upload is a multipart upload in progress.
type upload struct {
	key   string
	parts map[int]*staged
}

func (u *upload) discard() {
	for _, p := range u.parts {
		p.discard()
	}
}

// CreateMultipartUpload starts a multipart upload of key, and returns its
// upload ID. Nothing is emitted until it completes.
func (b *Bucket) CreateMultipartUpload(ctx context.Context, key string) (string, error) {
	if err := b.checkKey(key); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return "", ErrBucketClosed
	}
	id := newVersionID()
	b.uploads[id] = &upload{key: key, parts: map[int]*staged{}}
	return id, nil
}

// UploadPart stores r's bytes as part partNumber of an upload, replacing
// an earlier part of that number, and returns the part's ETag: its MD5.
func (b *Bucket) UploadPart(ctx context.Context, key, uploadID string, partNumber int, r io.Reader) (string, error) {
	if partNumber < 1 || partNumber > MaxPartNumber {
		return "", fmt.Errorf("%w: part number %d is not in 1–%d", ErrInvalidPart, partNumber, MaxPartNumber)
	}
	if _, err := b.upload(key, uploadID); err != nil {
		return "", err
	}
	st, err := b.stage(ctx, r)
	if err != nil {
		return "", err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	u, err := b.uploadLocked(key, uploadID)
	if err != nil {
		st.discard()
		return "", err
	}
	u.parts[partNumber].discard()
	u.parts[partNumber] = st
	return hex.EncodeToString(st.sum), nil
}

func (b *Bucket) upload(key, uploadID string) (*upload, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.uploadLocked(key, uploadID)
}

// uploadLocked returns the upload. b.mu is held.
func (b *Bucket) uploadLocked(key, uploadID string) (*upload, error) {
	if b.closed {
		return nil, ErrBucketClosed
	}
	u := b.uploads[uploadID]
	if u == nil || u.key != key {
		return nil, fmt.Errorf("%w: %q for %q", ErrNoSuchUpload, uploadID, key)
	}
	return u, nil
}

// CompleteMultipartUpload puts the object key from the uploaded parts
// named, in their order, and emits ObjectCreated:CompleteMultipartUpload.
// The object's ETag is the MD5 of the parts' MD5s, followed by "-" and the
// number of parts, as S3's. Parts uploaded but not named are dropped. A
// failed completion leaves the upload as it was, to complete again or
// abort.
//
// # Errors
//
// ErrNoSuchUpload; ErrInvalidPart for a part not uploaded or whose ETag
// differs; ErrInvalidPartOrder when the part numbers do not increase;
// ErrEntityTooSmall for a part but the last smaller than MinPartSize.
func (b *Bucket) CompleteMultipartUpload(ctx context.Context, key, uploadID string, parts []CompletedPart) (Object, error) {
	if err := ctx.Err(); err != nil {
		return Object{}, err
	}
	b.mu.Lock()
	u, err := b.uploadLocked(key, uploadID)
	if err == nil {
		err = checkParts(u, parts)
	}
	if err != nil {
		b.mu.Unlock()
		return Object{}, err
	}
	delete(b.uploads, uploadID)
	b.mu.Unlock()

	s, err := b.newStager()
	if err == nil {
		sums := make([]byte, 0, md5.Size*len(parts))
		for _, p := range parts {
			st := u.parts[p.PartNumber]
			sums = append(sums, st.sum...)
			if err = copyStaged(ctx, s, st); err != nil {
				break
			}
		}
		if err == nil {
			var st *staged
			if st, err = s.finish(); err == nil {
				sum := md5.Sum(sums)
				etag := fmt.Sprintf("%s-%d", hex.EncodeToString(sum[:]), len(parts))
				var o Object
				if o, err = b.commit(key, st, ObjectCreatedCompleteMultipartUpload, etag); err == nil {
					u.discard()
					return o, nil
				}
			}
		} else {
			s.abort()
		}
	}
	// The upload stays, to complete again or abort.
	b.mu.Lock()
	if b.closed {
		u.discard()
	} else {
		b.uploads[uploadID] = u
	}
	b.mu.Unlock()
	return Object{}, err
}

func checkParts(u *upload, parts []CompletedPart) error {
	if len(parts) == 0 {
		return fmt.Errorf("%w: no parts", ErrInvalidPart)
	}
	for i, p := range parts {
		if i > 0 && p.PartNumber <= parts[i-1].PartNumber {
			return fmt.Errorf("%w: part %d after part %d", ErrInvalidPartOrder, p.PartNumber, parts[i-1].PartNumber)
		}
	}
	for _, p := range parts {
		st := u.parts[p.PartNumber]
		if st == nil || strings.Trim(p.ETag, `"`) != hex.EncodeToString(st.sum) {
			return fmt.Errorf("%w: part %d", ErrInvalidPart, p.PartNumber)
		}
	}
	for _, p := range parts[:len(parts)-1] {
		if st := u.parts[p.PartNumber]; st.size < MinPartSize {
			return fmt.Errorf("%w: part %d has %d bytes, under %d", ErrEntityTooSmall, p.PartNumber, st.size, MinPartSize)
		}
	}
	return nil
}

// copyStaged writes st's bytes to w.
func copyStaged(ctx context.Context, w io.Writer, st *staged) error {
	if st.tmp == "" {
		_, err := w.Write(st.data)
		return err
	}
	f, err := os.Open(st.tmp)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, ctxReader{ctx, f})
	return err
}

// AbortMultipartUpload drops an upload and its parts.
func (b *Bucket) AbortMultipartUpload(ctx context.Context, key, uploadID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	u, err := b.uploadLocked(key, uploadID)
	if err != nil {
		return err
	}
	delete(b.uploads, uploadID)
	u.discard()
	return nil
}

// Uploads returns the IDs of the multipart uploads in progress for key,
// sorted.
func (b *Bucket) Uploads(key string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ids []string
	for id, u := range b.uploads {
		if u.key == key {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}
