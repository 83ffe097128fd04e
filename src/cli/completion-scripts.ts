// The shell scripts `qdo completion bash|zsh|fish` prints (man/qdo-completion.1). Each asks
// `qdo __complete SHELL WORD…` (complete.ts) for the candidates of the word being typed:
// one per line (zsh and fish: "value<TAB>description"), then a directive line — ":files"
// (let the shell complete file names), ":nospace" (more is typed after the value, as after
// "project/" or "train@"), or ":".

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

const BASH = `# bash completion for qdo; made by: qdo completion bash
# Install (bash-completion loads it when qdo is first completed):
#   mkdir -p ~/.local/share/bash-completion/completions
#   qdo completion bash > ~/.local/share/bash-completion/completions/qdo
# or add to ~/.bashrc:  eval "$(qdo completion bash)"
_qdo_complete() {
  local cur words cword
  if declare -F _init_completion >/dev/null 2>&1; then
    _init_completion -n =: || return
  else
    # Without bash-completion, COMP_WORDS is split at COMP_WORDBREAKS (":" and "=" among
    # them): take the words from the line itself, split at blanks only.
    local line=\${COMP_LINE:0:COMP_POINT}
    read -ra words <<< "$line"
    case $line in *[[:space:]]|'') words+=("") ;; esac
    cword=$(( \${#words[@]} - 1 ))
    cur=\${words[cword]}
  fi
  local out
  out=$(command qdo __complete bash "\${words[@]:1:cword}" 2>/dev/null) || return 0
  local IFS=$'\\n'
  local -a lines=($out)
  local n=\${#lines[@]}
  [ "$n" -gt 0 ] || return 0
  local directive=\${lines[n-1]}
  unset "lines[n-1]"
  case $directive in
    :files) compopt -o default 2>/dev/null; COMPREPLY=(); return 0 ;;
    :nospace) compopt -o nospace 2>/dev/null ;;
  esac
  COMPREPLY=("\${lines[@]}")
  # Bash replaces only what follows the last word break (":" or "=") in the word: drop what
  # comes before it from the candidates ("--pool=p1" is offered as "p1" after "--pool=").
  local brk=\${COMP_WORDBREAKS//[^:=]/}
  if [ -n "$brk" ]; then
    case $cur in
      *["$brk"]*)
        local pre=\${cur%"\${cur##*["$brk"]}"}
        COMPREPLY=("\${COMPREPLY[@]#"$pre"}")
        ;;
    esac
  fi
  return 0
}
complete -F _qdo_complete qdo
`;

const ZSH = `#compdef qdo
# zsh completion for qdo; made by: qdo completion zsh
# Install: put it in a folder of $fpath as _qdo, before compinit runs, e.g.
#   mkdir -p ~/.zfunc && qdo completion zsh > ~/.zfunc/_qdo
#   and in ~/.zshrc:  fpath=(~/.zfunc $fpath); autoload -U compinit; compinit
# or, after compinit in ~/.zshrc:  source <(qdo completion zsh)
_qdo() {
  local out directive line
  local -a lines values shown
  out=$(command qdo __complete zsh "\${(@)words[2,CURRENT]}" 2>/dev/null) || return 1
  lines=("\${(@f)out}")
  (( \${#lines} )) || return 1
  directive=\${lines[-1]}
  lines=("\${(@)lines[1,-2]}")
  if [[ $directive == :files ]]; then
    _files
    return
  fi
  for line in $lines; do
    values+=("\${line%%$'\\t'*}")
    if [[ $line == *$'\\t'* ]]; then shown+=("\${line%%$'\\t'*}  -- \${line#*$'\\t'}"); else shown+=("$line"); fi
  done
  (( \${#values} )) || return 1
  if [[ $directive == :nospace ]]; then
    compadd -S '' -l -d shown -a values
  else
    compadd -l -d shown -a values
  fi
}
if [[ "\${funcstack[1]}" == "_qdo" ]]; then
  _qdo "$@"
else
  compdef _qdo qdo
fi
`;

const FISH = `# fish completion for qdo; made by: qdo completion fish
# Install: qdo completion fish > ~/.config/fish/completions/qdo.fish
function __qdo_complete
    set -l tokens (commandline -opc)
    set -l current (commandline -ct)
    set -l out (command qdo __complete fish $tokens[2..-1] $current 2>/dev/null)
    or return
    test (count $out) -gt 0; or return
    set -l directive $out[-1]
    set -e out[-1]
    if test "$directive" = ":files"
        __fish_complete_path $current
        return
    end
    printf '%s\\n' $out
end
complete -c qdo -f -a '(__qdo_complete)'
`;

export function completionScript(shell: Shell): string {
  return shell === 'bash' ? BASH : shell === 'zsh' ? ZSH : FISH;
}
