# bash completion for lade(1). Installed as share/bash-completion/completions/lade.
# The option lists follow `lade help COMMAND` (tests/integration/cli.sh checks they agree).

# COMPREPLY from compgen ARGS..., one candidate per line.
_lade_reply() {
	mapfile -t COMPREPLY < <(compgen "$@")
}

_lade_reply_add() {
	local more
	mapfile -t more < <(compgen "$@")
	COMPREPLY+=("${more[@]}")
}

_lade() {
	local cur prev cmd i
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}

	local commands="build inspect diff verify push pull gc help version"
	cmd=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-*) ;;
		*)
			cmd=${COMP_WORDS[i]}
			break
			;;
		esac
	done

	if [[ -z $cmd ]]; then
		_lade_reply -W "$commands --help --version" -- "$cur"
		return 0
	fi

	# --tls-verify=BOOL (build, push, pull): bash splits the word at '='.
	if [[ $prev == = && ${COMP_WORDS[COMP_CWORD - 2]} == --tls-verify ]] ||
		[[ $cur == = && $prev == --tls-verify ]]; then
		[[ $cur == = ]] && cur=
		_lade_reply -W "true false" -- "$cur"
		return 0
	fi

	local opts=
	case $cmd in
	build)
		opts="--output --format --tag --variant --compression --lazy --level --gzip-level
		      --annotation --jobs --lock-timeout --json --progress --quiet --no-sandbox
		      --explain-sandbox --sbom --sbom-out --push --push-only --cache-from --cache-to --offline --allow-unpinned-base
		      --allow-outside-context --creds --tls-verify --cache --no-cache --link-blobs --max-size --help"
		case $prev in
		-o | --output)
			# A layout directory or, with --format *-archive, a file.
			_lade_reply -f -- "$cur"
			compopt -o filenames 2>/dev/null
			return 0
			;;
		--format)
			_lade_reply -W "oci oci-archive docker-archive" -- "$cur"
			return 0
			;;
		--compression)
			_lade_reply -W "gzip zstd none" -- "$cur"
			return 0
			;;
		--lazy)
			_lade_reply -W "estargz zstd-chunked none" -- "$cur"
			return 0
			;;
		--sbom)
			_lade_reply -W "spdx cyclonedx none" -- "$cur"
			return 0
			;;
		--cache)
			_lade_reply -d -- "$cur"
			compopt -o filenames 2>/dev/null
			return 0
			;;
		--push | --creds | --max-size)
			return 0
			;;
		--sbom-out)
			_lade_reply -f -- "$cur"
			compopt -o filenames 2>/dev/null
			return 0
			;;
		-t | --tag | --variant | --level | --gzip-level | --annotation | -j | --jobs | \
			--lock-timeout)
			return 0
			;;
		esac
		;;
	inspect)
		opts="--top --by --no-layers --html --json --no-sandbox --help"
		case $prev in
		--html)
			_lade_reply -f -- "$cur"
			compopt -o filenames 2>/dev/null
			return 0
			;;
		--by)
			_lade_reply -W "package" -- "$cur"
			return 0
			;;
		--top)
			return 0
			;;
		esac
		;;
	diff)
		opts="--by --json --no-sandbox --help"
		case $prev in
		--by)
			_lade_reply -W "package" -- "$cur"
			return 0
			;;
		esac
		;;
	verify)
		opts="--max-problems --no-layers --no-sandbox --json --quiet --help"
		case $prev in
		--max-problems)
			return 0
			;;
		esac
		;;
	gc)
		opts="--dry-run --json --cache --max-size --older-than --lock-timeout --quiet
		      --no-sandbox --help"
		case $prev in
		--max-size | --older-than | --lock-timeout)
			return 0
			;;
		esac
		;;
	push | pull)
		if [[ $cmd == push ]]; then
			opts="--creds --tls-verify --cert-dir --mount-from --digestfile --jobs --chunk-size
			      --json --quiet --no-sandbox --help"
		else
			opts="--output --platform --offline --jobs --json --creds --tls-verify --cert-dir
			      --quiet --no-sandbox --help"
		fi
		case $prev in
		-o | --output | --cert-dir)
			_lade_reply -d -- "$cur"
			compopt -o filenames 2>/dev/null
			return 0
			;;
		--digestfile)
			_lade_reply -f -- "$cur"
			compopt -o filenames 2>/dev/null
			return 0
			;;
		--creds | --mount-from | -j | --jobs | --platform | --chunk-size)
			return 0
			;;
		esac
		;;
	help)
		_lade_reply -W "$commands" -- "$cur"
		return 0
		;;
	*)
		return 0
		;;
	esac

	if [[ $cur == -* ]]; then
		_lade_reply -W "$opts" -- "$cur"
		return 0
	fi
	case $cmd in
	build)
		# RECIPE: a YAML file (directories to get there).
		_lade_reply -f -X '!*.yaml' -- "$cur"
		_lade_reply_add -f -X '!*.yml' -- "$cur"
		_lade_reply_add -d -- "$cur"
		compopt -o filenames 2>/dev/null
		;;
	gc)
		# DIR: a layout (or with --cache the cache directory).
		_lade_reply -d -- "$cur"
		compopt -o filenames 2>/dev/null
		;;
	inspect | diff | verify | push)
		# IMAGE: a layout directory or an archive file, maybe with a transport prefix.
		_lade_reply -W "oci: oci-archive: docker-archive:" -- "$cur"
		_lade_reply_add -f -- "$cur"
		compopt -o filenames 2>/dev/null
		;;
	esac
	return 0
} &&
	complete -F _lade lade
