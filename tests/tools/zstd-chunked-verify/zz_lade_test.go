// The zstd:chunked reader of Debian's containers/storage 1.43 (pkg/chunked), run on lade's
// layers: tests/integration/lazy-zstd-chunked.sh copies this file into a copy of that package
// (GOPATH mode, no network) so that it can call the package's own unexported reader, the one a
// partial pull uses: readZstdChunkedManifest (footer or annotations, manifest checksum against
// the annotation, zstd-decoded manifest) and unmarshalToc (the TOC as the differ sees it). Then
// every regular file is fetched as a partial pull fetches it, the range [offset, endOffset) of
// the blob, decoded with the package's zstd decoder and checked against the TOC's size and
// digest. LADE_ZSTD_CHUNKED_LIST names a file of lines "BLOB CHECKSUM POSITION".
package chunked

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/containers/storage/pkg/chunked/internal"
	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
)

type fileSource struct{ f *os.File }

func (s fileSource) GetBlobAt(chunks []ImageSourceChunk) (chan io.ReadCloser, chan error, error) {
	parts := make(chan io.ReadCloser, len(chunks))
	errs := make(chan error, 1)
	for _, c := range chunks {
		buf := make([]byte, c.Length)
		if _, err := s.f.ReadAt(buf, int64(c.Offset)); err != nil {
			errs <- err
			break
		}
		parts <- io.NopCloser(bytes.NewReader(buf))
	}
	// errs stays open: readZstdChunkedManifest selects on both channels, and a closed errs
	// would be picked at random with a nil error (a nil manifest, an empty TOC, no failure).
	close(parts)
	return parts, errs, nil
}

func checkBlob(path, checksum, position string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	// The footer first (no position annotation), then the annotations, as both paths exist.
	for _, ann := range []map[string]string{
		{internal.ManifestChecksumKey: checksum},
		{internal.ManifestChecksumKey: checksum, internal.ManifestInfoKey: position},
	} {
		manifest, _, err := readZstdChunkedManifest(fileSource{f}, st.Size(), ann)
		if err != nil {
			return "", fmt.Errorf("readZstdChunkedManifest: %w", err)
		}
		toc, err := unmarshalToc(manifest)
		if err != nil {
			return "", fmt.Errorf("unmarshalToc: %w", err)
		}
		if len(toc.Entries) == 0 {
			return "", fmt.Errorf("the TOC read through %d annotation(s) has no entries", len(ann))
		}
		if len(ann) == 1 {
			continue
		}
		dec, err := zstd.NewReader(nil)
		if err != nil {
			return "", err
		}
		defer dec.Close()
		files := 0
		for _, e := range toc.Entries {
			if e.Type != internal.TypeReg || e.Size == 0 {
				continue
			}
			if e.Offset <= 0 || e.EndOffset <= e.Offset || e.EndOffset > st.Size() {
				return "", fmt.Errorf("%s: range [%d, %d)", e.Name, e.Offset, e.EndOffset)
			}
			buf := make([]byte, e.EndOffset-e.Offset)
			if _, err := f.ReadAt(buf, e.Offset); err != nil {
				return "", err
			}
			content, err := dec.DecodeAll(buf, nil)
			if err != nil {
				return "", fmt.Errorf("%s: decoding [%d, %d): %w", e.Name, e.Offset, e.EndOffset, err)
			}
			if int64(len(content)) != e.Size || digest.FromBytes(content).String() != e.Digest {
				return "", fmt.Errorf("%s: %d bytes %s, the TOC says %d bytes %s", e.Name,
					len(content), digest.FromBytes(content), e.Size, e.Digest)
			}
			files++
		}
		return fmt.Sprintf("ok %s entries=%d files=%d", path, len(toc.Entries), files), nil
	}
	return "", nil
}

func TestLadeZstdChunked(t *testing.T) {
	list := os.Getenv("LADE_ZSTD_CHUNKED_LIST")
	if list == "" {
		t.Skip("LADE_ZSTD_CHUNKED_LIST not set")
	}
	f, err := os.Open(list)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			continue
		}
		n++
		line, err := checkBlob(fields[0], fields[1], fields[2])
		if err != nil {
			t.Errorf("FAIL %s: %v", fields[0], err)
			continue
		}
		fmt.Println(line)
	}
	if n == 0 {
		t.Fatal("no layers listed")
	}
}
