// estargz-verify: open eStargz blobs with the reference reader (containerd's
// stargz-snapshotter estargz package, from Debian) and verify each one's TOC against the
// toc.digest annotation, then every chunk of every regular file against its chunkDigest and
// every file against its digest, reading the content through the TOC's offsets (what a lazy
// snapshotter does). Usage: estargz-verify BLOB TOC-DIGEST [BLOB TOC-DIGEST]...
// Prints one line per blob: "ok BLOB files=N chunks=M prefetch=OFFSET|none landmark=NAME".
package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/containerd/stargz-snapshotter/estargz"
	digest "github.com/opencontainers/go-digest"
)

func verifyBlob(blob string, tocDigest digest.Digest) error {
	f, err := os.Open(blob)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	r, err := estargz.Open(io.NewSectionReader(f, 0, st.Size()))
	if err != nil {
		return fmt.Errorf("estargz.Open: %w", err)
	}
	v, err := r.VerifyTOC(tocDigest)
	if err != nil {
		return fmt.Errorf("VerifyTOC: %w", err)
	}
	files, chunks := 0, 0
	seen := map[string]bool{}
	var walk func(name string, e *estargz.TOCEntry) error
	walk = func(name string, e *estargz.TOCEntry) error {
		if e.Type == "dir" {
			var werr error
			e.ForeachChild(func(base string, c *estargz.TOCEntry) bool {
				werr = walk(path.Join(name, base), c)
				return werr == nil
			})
			return werr
		}
		if e.Type != "reg" || e.Size == 0 || seen[e.Name] {
			return nil
		}
		// A hard link's child is its target's entry: read it by the target's name (the
		// reader keys a file's chunks by the name the file was written under).
		seen[e.Name] = true
		name = e.Name
		files++
		sr, err := r.OpenFile(name)
		if err != nil {
			return fmt.Errorf("%s: OpenFile: %w", name, err)
		}
		whole := sha256.New()
		for off := int64(0); off < e.Size; {
			ce, ok := r.ChunkEntryForOffset(name, off)
			if !ok {
				return fmt.Errorf("%s: no chunk at %d", name, off)
			}
			cv, err := v.Verifier(ce)
			if err != nil {
				return fmt.Errorf("%s: chunk at %d: %w", name, off, err)
			}
			buf := make([]byte, ce.ChunkSize)
			if _, err := sr.ReadAt(buf, ce.ChunkOffset); err != nil && err != io.EOF {
				return fmt.Errorf("%s: reading chunk at %d: %w", name, off, err)
			}
			cv.Write(buf)
			if !cv.Verified() {
				return fmt.Errorf("%s: chunk at %d (blob offset %d) does not match its chunkDigest", name, off, ce.Offset)
			}
			whole.Write(buf)
			chunks++
			off = ce.ChunkOffset + ce.ChunkSize
		}
		if got := digest.NewDigest(digest.SHA256, whole).String(); got != e.Digest {
			return fmt.Errorf("%s: content %s, TOC digest %s", name, got, e.Digest)
		}
		return nil
	}
	root, ok := r.Lookup("")
	if !ok {
		return fmt.Errorf("no root in the TOC")
	}
	if err := walk("", root); err != nil {
		return err
	}
	prefetch, landmark := "none", "none"
	if e, ok := r.Lookup(estargz.PrefetchLandmark); ok {
		prefetch, landmark = fmt.Sprint(e.Offset), estargz.PrefetchLandmark
	} else if _, ok := r.Lookup(estargz.NoPrefetchLandmark); ok {
		landmark = estargz.NoPrefetchLandmark
	}
	fmt.Printf("ok %s files=%d chunks=%d prefetch=%s landmark=%s\n", blob, files, chunks, prefetch, landmark)
	return nil
}

func main() {
	args := os.Args[1:]
	if len(args) == 0 || len(args)%2 != 0 {
		fmt.Fprintln(os.Stderr, "usage: estargz-verify BLOB TOC-DIGEST [BLOB TOC-DIGEST]...")
		os.Exit(2)
	}
	failed := false
	for i := 0; i < len(args); i += 2 {
		if err := verifyBlob(args[i], digest.Digest(args[i+1])); err != nil {
			fmt.Printf("FAIL %s: %v\n", args[i], err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}
