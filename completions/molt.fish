# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_molt_global_optspecs
    string join \n h/help V/version
end

function __fish_molt_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_molt_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_molt_using_subcommand
    set -l cmd (__fish_molt_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c molt -n "__fish_molt_needs_command" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_needs_command" -s V -l version -d 'Print version'
complete -c molt -n "__fish_molt_needs_command" -f -a "gateway" -d 'Run the gateway daemon: web chat, model providers, the embedded store'
complete -c molt -n "__fish_molt_needs_command" -f -a "pair" -d 'Approve or refuse devices and chat-platform users'
complete -c molt -n "__fish_molt_needs_command" -f -a "skills" -d 'The assistant\'s skills: list, add, remove, enable, disable'
complete -c molt -n "__fish_molt_needs_command" -f -a "init" -d 'Set up a deployment: ask what it needs, keep its secrets, render the deploy folder'
complete -c molt -n "__fish_molt_needs_command" -f -a "deploy" -d 'Deploy to Cloudflare: bucket, credentials, Access, Worker, secrets, webhooks; prints the URL'
complete -c molt -n "__fish_molt_needs_command" -f -a "secrets" -d 'The deployment\'s secrets: list, get, set, push'
complete -c molt -n "__fish_molt_needs_command" -f -a "token" -d 'The gateway token: rotate'
complete -c molt -n "__fish_molt_needs_command" -f -a "doctor" -d 'Check the whole chain: token, account, bucket, Access, secrets, Worker, channels, model'
complete -c molt -n "__fish_molt_needs_command" -f -a "tail" -d 'Follow the Worker\'s live logs (or the gateway\'s, with `--gateway`)'
complete -c molt -n "__fish_molt_needs_command" -f -a "completions" -d 'Print shell completions'
complete -c molt -n "__fish_molt_needs_command" -f -a "man" -d 'Print the man page (roff)'
complete -c molt -n "__fish_molt_needs_command" -f -a "chat" -d 'Talk to the assistant and answer pairing requests in a terminal UI'
complete -c molt -n "__fish_molt_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c molt -n "__fish_molt_using_subcommand gateway; and not __fish_seen_subcommand_from backup help" -l port -d 'Port to listen on [env: MOLT_PORT] [default: 18789]' -r
complete -c molt -n "__fish_molt_using_subcommand gateway; and not __fish_seen_subcommand_from backup help" -l bind -d 'Address to bind [env: MOLT_BIND] [default: 127.0.0.1]' -r
complete -c molt -n "__fish_molt_using_subcommand gateway; and not __fish_seen_subcommand_from backup help" -l data-dir -d 'Where the store, token and workspace live [env: MOLT_DATA_DIR]' -r -F
complete -c molt -n "__fish_molt_using_subcommand gateway; and not __fish_seen_subcommand_from backup help" -l log-format -d '`text` or `json` [env: MOLT_LOG_FORMAT]' -r -f -a "text\t''
json\t''"
complete -c molt -n "__fish_molt_using_subcommand gateway; and not __fish_seen_subcommand_from backup help" -l config -d 'Settings file [env: MOLT_CONFIG] [default: ./molt.toml when present]' -r -F
complete -c molt -n "__fish_molt_using_subcommand gateway; and not __fish_seen_subcommand_from backup help" -l print-config -d 'Print the resolved settings (secrets redacted) and where each came from, then exit'
complete -c molt -n "__fish_molt_using_subcommand gateway; and not __fish_seen_subcommand_from backup help" -l insecure -d 'Allow `DEV_MODE` on an address other machines can reach (device approval and admin sign-in are then off for everyone who has the gateway token)'
complete -c molt -n "__fish_molt_using_subcommand gateway; and not __fish_seen_subcommand_from backup help" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand gateway; and not __fish_seen_subcommand_from backup help" -f -a "backup" -d 'Ship every change and store a snapshot in the bucket now'
complete -c molt -n "__fish_molt_using_subcommand gateway; and not __fish_seen_subcommand_from backup help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c molt -n "__fish_molt_using_subcommand gateway; and __fish_seen_subcommand_from backup" -l url -d 'The running gateway\'s URL [env: MOLT_URL] [default: http://127.0.0.1:<port>]' -r
complete -c molt -n "__fish_molt_using_subcommand gateway; and __fish_seen_subcommand_from backup" -l port -d 'Port of the running gateway [env: MOLT_PORT] [default: 18789]' -r
complete -c molt -n "__fish_molt_using_subcommand gateway; and __fish_seen_subcommand_from backup" -l data-dir -d 'Where the store and token live [env: MOLT_DATA_DIR]' -r -F
complete -c molt -n "__fish_molt_using_subcommand gateway; and __fish_seen_subcommand_from backup" -l config -d 'Settings file [env: MOLT_CONFIG]' -r -F
complete -c molt -n "__fish_molt_using_subcommand gateway; and __fish_seen_subcommand_from backup" -l offline -d 'No gateway is running: open the store here, snapshot it into the bucket, and stop'
complete -c molt -n "__fish_molt_using_subcommand gateway; and __fish_seen_subcommand_from backup" -l force -d 'With `--offline`: take the bucket over even if a gateway still holds it (that gateway is fenced and stops)'
complete -c molt -n "__fish_molt_using_subcommand gateway; and __fish_seen_subcommand_from backup" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand gateway; and __fish_seen_subcommand_from help" -f -a "backup" -d 'Ship every change and store a snapshot in the bucket now'
complete -c molt -n "__fish_molt_using_subcommand gateway; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c molt -n "__fish_molt_using_subcommand pair; and not __fish_seen_subcommand_from list approve reject revoke rotate code help" -l url -d 'The gateway\'s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]' -r
complete -c molt -n "__fish_molt_using_subcommand pair; and not __fish_seen_subcommand_from list approve reject revoke rotate code help" -l data-dir -d 'The local gateway\'s data directory, where its token is kept [env: MOLT_DATA_DIR]' -r -F
complete -c molt -n "__fish_molt_using_subcommand pair; and not __fish_seen_subcommand_from list approve reject revoke rotate code help" -l json -d 'Print the API\'s JSON instead of text'
complete -c molt -n "__fish_molt_using_subcommand pair; and not __fish_seen_subcommand_from list approve reject revoke rotate code help" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand pair; and not __fish_seen_subcommand_from list approve reject revoke rotate code help" -f -a "list" -d 'Devices waiting for approval and devices already paired'
complete -c molt -n "__fish_molt_using_subcommand pair; and not __fish_seen_subcommand_from list approve reject revoke rotate code help" -f -a "approve" -d 'Let a waiting device in (a unique prefix of its request id is enough)'
complete -c molt -n "__fish_molt_using_subcommand pair; and not __fish_seen_subcommand_from list approve reject revoke rotate code help" -f -a "reject" -d 'Turn a waiting device away'
complete -c molt -n "__fish_molt_using_subcommand pair; and not __fish_seen_subcommand_from list approve reject revoke rotate code help" -f -a "revoke" -d 'Unpair a device: its tokens stop working and its connections close at once'
complete -c molt -n "__fish_molt_using_subcommand pair; and not __fish_seen_subcommand_from list approve reject revoke rotate code help" -f -a "rotate" -d 'Give a device a new token (shown once); the old one stops working'
complete -c molt -n "__fish_molt_using_subcommand pair; and not __fish_seen_subcommand_from list approve reject revoke rotate code help" -f -a "code" -d 'Chat-platform pairing codes'
complete -c molt -n "__fish_molt_using_subcommand pair; and not __fish_seen_subcommand_from list approve reject revoke rotate code help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from list" -l url -d 'The gateway\'s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]' -r
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from list" -l data-dir -d 'The local gateway\'s data directory, where its token is kept [env: MOLT_DATA_DIR]' -r -F
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from list" -l json -d 'Print the API\'s JSON instead of text'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from approve" -l url -d 'The gateway\'s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]' -r
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from approve" -l data-dir -d 'The local gateway\'s data directory, where its token is kept [env: MOLT_DATA_DIR]' -r -F
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from approve" -l json -d 'Print the API\'s JSON instead of text'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from approve" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from reject" -l url -d 'The gateway\'s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]' -r
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from reject" -l data-dir -d 'The local gateway\'s data directory, where its token is kept [env: MOLT_DATA_DIR]' -r -F
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from reject" -l json -d 'Print the API\'s JSON instead of text'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from reject" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from revoke" -l url -d 'The gateway\'s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]' -r
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from revoke" -l data-dir -d 'The local gateway\'s data directory, where its token is kept [env: MOLT_DATA_DIR]' -r -F
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from revoke" -l json -d 'Print the API\'s JSON instead of text'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from rotate" -l url -d 'The gateway\'s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]' -r
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from rotate" -l data-dir -d 'The local gateway\'s data directory, where its token is kept [env: MOLT_DATA_DIR]' -r -F
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from rotate" -l json -d 'Print the API\'s JSON instead of text'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from rotate" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from code" -l url -d 'The gateway\'s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]' -r
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from code" -l data-dir -d 'The local gateway\'s data directory, where its token is kept [env: MOLT_DATA_DIR]' -r -F
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from code" -l json -d 'Print the API\'s JSON instead of text'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from code" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from code" -f -a "list" -d 'Codes waiting for approval'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from code" -f -a "approve" -d 'Allow the sender of a code to talk to the assistant'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from code" -f -a "reject" -d 'Turn the sender of a code away'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from code" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from help" -f -a "list" -d 'Devices waiting for approval and devices already paired'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from help" -f -a "approve" -d 'Let a waiting device in (a unique prefix of its request id is enough)'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from help" -f -a "reject" -d 'Turn a waiting device away'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Unpair a device: its tokens stop working and its connections close at once'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from help" -f -a "rotate" -d 'Give a device a new token (shown once); the old one stops working'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from help" -f -a "code" -d 'Chat-platform pairing codes'
complete -c molt -n "__fish_molt_using_subcommand pair; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c molt -n "__fish_molt_using_subcommand skills; and not __fish_seen_subcommand_from list add remove enable disable help" -l url -d 'The gateway\'s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]' -r
complete -c molt -n "__fish_molt_using_subcommand skills; and not __fish_seen_subcommand_from list add remove enable disable help" -l data-dir -d 'The local gateway\'s data directory, where its token is kept [env: MOLT_DATA_DIR]' -r -F
complete -c molt -n "__fish_molt_using_subcommand skills; and not __fish_seen_subcommand_from list add remove enable disable help" -l json -d 'Print the API\'s JSON instead of text'
complete -c molt -n "__fish_molt_using_subcommand skills; and not __fish_seen_subcommand_from list add remove enable disable help" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand skills; and not __fish_seen_subcommand_from list add remove enable disable help" -f -a "list" -d 'The installed skills: on or off, and whether the model is offered them (and why not)'
complete -c molt -n "__fish_molt_using_subcommand skills; and not __fish_seen_subcommand_from list add remove enable disable help" -f -a "add" -d 'Install a skill from its folder (named as the skill) or a `.zip` of it'
complete -c molt -n "__fish_molt_using_subcommand skills; and not __fish_seen_subcommand_from list add remove enable disable help" -f -a "remove" -d 'Remove an installed skill and its files'
complete -c molt -n "__fish_molt_using_subcommand skills; and not __fish_seen_subcommand_from list add remove enable disable help" -f -a "enable" -d 'Offer an installed skill to the model again'
complete -c molt -n "__fish_molt_using_subcommand skills; and not __fish_seen_subcommand_from list add remove enable disable help" -f -a "disable" -d 'Stop offering a skill to the model; it stays installed'
complete -c molt -n "__fish_molt_using_subcommand skills; and not __fish_seen_subcommand_from list add remove enable disable help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from list" -l url -d 'The gateway\'s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]' -r
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from list" -l data-dir -d 'The local gateway\'s data directory, where its token is kept [env: MOLT_DATA_DIR]' -r -F
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from list" -l json -d 'Print the API\'s JSON instead of text'
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from add" -l url -d 'The gateway\'s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]' -r
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from add" -l data-dir -d 'The local gateway\'s data directory, where its token is kept [env: MOLT_DATA_DIR]' -r -F
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from add" -l replace -d 'Take the place of an installed skill of the same name'
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from add" -l json -d 'Print the API\'s JSON instead of text'
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from remove" -l url -d 'The gateway\'s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]' -r
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from remove" -l data-dir -d 'The local gateway\'s data directory, where its token is kept [env: MOLT_DATA_DIR]' -r -F
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from remove" -l json -d 'Print the API\'s JSON instead of text'
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from enable" -l url -d 'The gateway\'s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]' -r
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from enable" -l data-dir -d 'The local gateway\'s data directory, where its token is kept [env: MOLT_DATA_DIR]' -r -F
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from enable" -l json -d 'Print the API\'s JSON instead of text'
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from enable" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from disable" -l url -d 'The gateway\'s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]' -r
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from disable" -l data-dir -d 'The local gateway\'s data directory, where its token is kept [env: MOLT_DATA_DIR]' -r -F
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from disable" -l json -d 'Print the API\'s JSON instead of text'
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from disable" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from help" -f -a "list" -d 'The installed skills: on or off, and whether the model is offered them (and why not)'
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from help" -f -a "add" -d 'Install a skill from its folder (named as the skill) or a `.zip` of it'
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove an installed skill and its files'
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from help" -f -a "enable" -d 'Offer an installed skill to the model again'
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from help" -f -a "disable" -d 'Stop offering a skill to the model; it stays installed'
complete -c molt -n "__fish_molt_using_subcommand skills; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c molt -n "__fish_molt_using_subcommand init" -l dir -d 'Where the deploy folder goes (`molt.toml`, `wrangler.toml`, the Worker)' -r -F
complete -c molt -n "__fish_molt_using_subcommand init" -l account-id -d 'Cloudflare account id (the API token comes from `CLOUDFLARE_API_TOKEN` or a prompt)' -r
complete -c molt -n "__fish_molt_using_subcommand init" -l worker-name -d 'Worker name; the assistant lives at `https://NAME.<subdomain>.workers.dev` [default: molt]' -r
complete -c molt -n "__fish_molt_using_subcommand init" -l provider -d 'Model provider: `anthropic`, `ai-gateway` or `openai` (its key from the environment)' -r -f -a "anthropic\t''
ai-gateway\t''
openai\t''"
complete -c molt -n "__fish_molt_using_subcommand init" -l model -d 'Model name [default: the provider\'s]' -r
complete -c molt -n "__fish_molt_using_subcommand init" -l openai-base-url -d 'OpenAI-compatible base URL (with `--provider openai`)' -r
complete -c molt -n "__fish_molt_using_subcommand init" -l ai-gateway-id -d 'Cloudflare AI Gateway id (with `--provider ai-gateway`)' -r
complete -c molt -n "__fish_molt_using_subcommand init" -l channels -d 'Channels, comma-separated: `telegram`, `discord`, `slack`, or `none`' -r
complete -c molt -n "__fish_molt_using_subcommand init" -l telegram-mode -d '`webhook` (recommended when the container sleeps) or `polling`' -r -f -a "webhook\t''
polling\t''"
complete -c molt -n "__fish_molt_using_subcommand init" -l slack-mode -d '`events` (recommended when the container sleeps) or `socket`' -r -f -a "events\t''
socket\t''"
complete -c molt -n "__fish_molt_using_subcommand init" -l telegram-dm-policy -d 'Telegram DM policy: `pairing`, `allowlist`, `open` or `disabled` [default: pairing]' -r -f -a "pairing\t''
allowlist\t''
open\t''
disabled\t''"
complete -c molt -n "__fish_molt_using_subcommand init" -l discord-dm-policy -d 'Discord DM policy [default: pairing]' -r -f -a "pairing\t''
allowlist\t''
open\t''
disabled\t''"
complete -c molt -n "__fish_molt_using_subcommand init" -l slack-dm-policy -d 'Slack DM policy [default: pairing]' -r -f -a "pairing\t''
allowlist\t''
open\t''
disabled\t''"
complete -c molt -n "__fish_molt_using_subcommand init" -l sleep-after -d 'Idle time before the container sleeps (`10m`, `1h`) or `never` [default: 10m]' -r
complete -c molt -n "__fish_molt_using_subcommand init" -l instance-type -d 'Container instance type: `lite`, `basic`, `standard-1`… [default: lite]' -r
complete -c molt -n "__fish_molt_using_subcommand init" -l bucket -d 'R2 bucket for the gateway\'s data [default: WORKER-data]' -r
complete -c molt -n "__fish_molt_using_subcommand init" -l access-team-domain -d 'Cloudflare Access team domain (`<team>.cloudflareaccess.com`) guarding the admin paths' -r
complete -c molt -n "__fish_molt_using_subcommand init" -l access-emails -d 'Emails Access lets in, comma-separated' -r
complete -c molt -n "__fish_molt_using_subcommand init" -l image -d 'A registry image to run instead of building the deploy folder\'s `Dockerfile`' -r
complete -c molt -n "__fish_molt_using_subcommand init" -l access-whole-host -d 'Put the whole host behind Access, not only the admin paths (channel webhooks stay open)'
complete -c molt -n "__fish_molt_using_subcommand init" -l non-interactive -d 'Never prompt: fail at once, naming every missing value'
complete -c molt -n "__fish_molt_using_subcommand init" -l no-verify -d 'Do not check the API token with Cloudflare (offline)'
complete -c molt -n "__fish_molt_using_subcommand init" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand deploy" -l dir -d 'The deploy folder `molt init` wrote' -r -F
complete -c molt -n "__fish_molt_using_subcommand deploy" -l skip-wrangler -d 'Do every step but `wrangler deploy` (when the Worker is uploaded some other way)'
complete -c molt -n "__fish_molt_using_subcommand deploy" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand secrets; and not __fish_seen_subcommand_from list get set push help" -l dir -d 'The deploy folder `molt init` wrote' -r -F
complete -c molt -n "__fish_molt_using_subcommand secrets; and not __fish_seen_subcommand_from list get set push help" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand secrets; and not __fish_seen_subcommand_from list get set push help" -f -a "list" -d 'Names of the local secrets, and whether the Worker has each (values are never shown)'
complete -c molt -n "__fish_molt_using_subcommand secrets; and not __fish_seen_subcommand_from list get set push help" -f -a "get" -d 'Print one secret\'s value on stdout'
complete -c molt -n "__fish_molt_using_subcommand secrets; and not __fish_seen_subcommand_from list get set push help" -f -a "set" -d 'Store a secret locally, its value read from stdin (or a hidden prompt)'
complete -c molt -n "__fish_molt_using_subcommand secrets; and not __fish_seen_subcommand_from list get set push help" -f -a "push" -d 'Push every local secret the Worker lacks or that changed (`--all`: every one)'
complete -c molt -n "__fish_molt_using_subcommand secrets; and not __fish_seen_subcommand_from list get set push help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c molt -n "__fish_molt_using_subcommand secrets; and __fish_seen_subcommand_from list" -l dir -d 'The deploy folder `molt init` wrote' -r -F
complete -c molt -n "__fish_molt_using_subcommand secrets; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand secrets; and __fish_seen_subcommand_from get" -l dir -d 'The deploy folder `molt init` wrote' -r -F
complete -c molt -n "__fish_molt_using_subcommand secrets; and __fish_seen_subcommand_from get" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand secrets; and __fish_seen_subcommand_from set" -l dir -d 'The deploy folder `molt init` wrote' -r -F
complete -c molt -n "__fish_molt_using_subcommand secrets; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand secrets; and __fish_seen_subcommand_from push" -l dir -d 'The deploy folder `molt init` wrote' -r -F
complete -c molt -n "__fish_molt_using_subcommand secrets; and __fish_seen_subcommand_from push" -l all
complete -c molt -n "__fish_molt_using_subcommand secrets; and __fish_seen_subcommand_from push" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand secrets; and __fish_seen_subcommand_from help" -f -a "list" -d 'Names of the local secrets, and whether the Worker has each (values are never shown)'
complete -c molt -n "__fish_molt_using_subcommand secrets; and __fish_seen_subcommand_from help" -f -a "get" -d 'Print one secret\'s value on stdout'
complete -c molt -n "__fish_molt_using_subcommand secrets; and __fish_seen_subcommand_from help" -f -a "set" -d 'Store a secret locally, its value read from stdin (or a hidden prompt)'
complete -c molt -n "__fish_molt_using_subcommand secrets; and __fish_seen_subcommand_from help" -f -a "push" -d 'Push every local secret the Worker lacks or that changed (`--all`: every one)'
complete -c molt -n "__fish_molt_using_subcommand secrets; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c molt -n "__fish_molt_using_subcommand token; and not __fish_seen_subcommand_from rotate help" -l dir -r -F
complete -c molt -n "__fish_molt_using_subcommand token; and not __fish_seen_subcommand_from rotate help" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand token; and not __fish_seen_subcommand_from rotate help" -f -a "rotate" -d 'Generate a new gateway token and push it to the Worker'
complete -c molt -n "__fish_molt_using_subcommand token; and not __fish_seen_subcommand_from rotate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c molt -n "__fish_molt_using_subcommand token; and __fish_seen_subcommand_from rotate" -l dir -r -F
complete -c molt -n "__fish_molt_using_subcommand token; and __fish_seen_subcommand_from rotate" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "rotate" -d 'Generate a new gateway token and push it to the Worker'
complete -c molt -n "__fish_molt_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c molt -n "__fish_molt_using_subcommand doctor" -l dir -d 'The deploy folder `molt init` wrote' -r -F
complete -c molt -n "__fish_molt_using_subcommand doctor" -l url -d 'The Worker\'s URL [env: MOLT_URL] [default: `https://WORKER.SUBDOMAIN.workers.dev`]' -r
complete -c molt -n "__fish_molt_using_subcommand doctor" -l json -d 'One JSON object with every check'
complete -c molt -n "__fish_molt_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand tail" -l dir -d 'The deploy folder `molt init` wrote' -r -F
complete -c molt -n "__fish_molt_using_subcommand tail" -l status -d 'Only requests with this outcome: `ok`, `error` or `canceled` (repeatable)' -r
complete -c molt -n "__fish_molt_using_subcommand tail" -l method -d 'Only requests with this HTTP method (repeatable)' -r
complete -c molt -n "__fish_molt_using_subcommand tail" -l search -d 'Only events whose logs, exceptions or URL contain this text' -r
complete -c molt -n "__fish_molt_using_subcommand tail" -l url -d 'With `--gateway`: the gateway\'s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]' -r
complete -c molt -n "__fish_molt_using_subcommand tail" -l json -d 'One JSON object per line instead of readable lines'
complete -c molt -n "__fish_molt_using_subcommand tail" -l gateway -d 'Follow the gateway daemon\'s own logs (`logs.tail`) instead of the Worker\'s'
complete -c molt -n "__fish_molt_using_subcommand tail" -l no-follow -d 'With `--gateway`: print the recent lines and exit instead of following'
complete -c molt -n "__fish_molt_using_subcommand tail" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand completions" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand man" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand chat" -l url -d 'The gateway\'s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]' -r
complete -c molt -n "__fish_molt_using_subcommand chat" -l data-dir -d 'The local gateway\'s data directory, where its token is kept [env: MOLT_DATA_DIR]' -r -F
complete -c molt -n "__fish_molt_using_subcommand chat" -s h -l help -d 'Print help'
complete -c molt -n "__fish_molt_using_subcommand help; and not __fish_seen_subcommand_from gateway pair skills init deploy secrets token doctor tail completions man chat help" -f -a "gateway" -d 'Run the gateway daemon: web chat, model providers, the embedded store'
complete -c molt -n "__fish_molt_using_subcommand help; and not __fish_seen_subcommand_from gateway pair skills init deploy secrets token doctor tail completions man chat help" -f -a "pair" -d 'Approve or refuse devices and chat-platform users'
complete -c molt -n "__fish_molt_using_subcommand help; and not __fish_seen_subcommand_from gateway pair skills init deploy secrets token doctor tail completions man chat help" -f -a "skills" -d 'The assistant\'s skills: list, add, remove, enable, disable'
complete -c molt -n "__fish_molt_using_subcommand help; and not __fish_seen_subcommand_from gateway pair skills init deploy secrets token doctor tail completions man chat help" -f -a "init" -d 'Set up a deployment: ask what it needs, keep its secrets, render the deploy folder'
complete -c molt -n "__fish_molt_using_subcommand help; and not __fish_seen_subcommand_from gateway pair skills init deploy secrets token doctor tail completions man chat help" -f -a "deploy" -d 'Deploy to Cloudflare: bucket, credentials, Access, Worker, secrets, webhooks; prints the URL'
complete -c molt -n "__fish_molt_using_subcommand help; and not __fish_seen_subcommand_from gateway pair skills init deploy secrets token doctor tail completions man chat help" -f -a "secrets" -d 'The deployment\'s secrets: list, get, set, push'
complete -c molt -n "__fish_molt_using_subcommand help; and not __fish_seen_subcommand_from gateway pair skills init deploy secrets token doctor tail completions man chat help" -f -a "token" -d 'The gateway token: rotate'
complete -c molt -n "__fish_molt_using_subcommand help; and not __fish_seen_subcommand_from gateway pair skills init deploy secrets token doctor tail completions man chat help" -f -a "doctor" -d 'Check the whole chain: token, account, bucket, Access, secrets, Worker, channels, model'
complete -c molt -n "__fish_molt_using_subcommand help; and not __fish_seen_subcommand_from gateway pair skills init deploy secrets token doctor tail completions man chat help" -f -a "tail" -d 'Follow the Worker\'s live logs (or the gateway\'s, with `--gateway`)'
complete -c molt -n "__fish_molt_using_subcommand help; and not __fish_seen_subcommand_from gateway pair skills init deploy secrets token doctor tail completions man chat help" -f -a "completions" -d 'Print shell completions'
complete -c molt -n "__fish_molt_using_subcommand help; and not __fish_seen_subcommand_from gateway pair skills init deploy secrets token doctor tail completions man chat help" -f -a "man" -d 'Print the man page (roff)'
complete -c molt -n "__fish_molt_using_subcommand help; and not __fish_seen_subcommand_from gateway pair skills init deploy secrets token doctor tail completions man chat help" -f -a "chat" -d 'Talk to the assistant and answer pairing requests in a terminal UI'
complete -c molt -n "__fish_molt_using_subcommand help; and not __fish_seen_subcommand_from gateway pair skills init deploy secrets token doctor tail completions man chat help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c molt -n "__fish_molt_using_subcommand help; and __fish_seen_subcommand_from gateway" -f -a "backup" -d 'Ship every change and store a snapshot in the bucket now'
complete -c molt -n "__fish_molt_using_subcommand help; and __fish_seen_subcommand_from pair" -f -a "list" -d 'Devices waiting for approval and devices already paired'
complete -c molt -n "__fish_molt_using_subcommand help; and __fish_seen_subcommand_from pair" -f -a "approve" -d 'Let a waiting device in (a unique prefix of its request id is enough)'
complete -c molt -n "__fish_molt_using_subcommand help; and __fish_seen_subcommand_from pair" -f -a "reject" -d 'Turn a waiting device away'
complete -c molt -n "__fish_molt_using_subcommand help; and __fish_seen_subcommand_from pair" -f -a "revoke" -d 'Unpair a device: its tokens stop working and its connections close at once'
complete -c molt -n "__fish_molt_using_subcommand help; and __fish_seen_subcommand_from pair" -f -a "rotate" -d 'Give a device a new token (shown once); the old one stops working'
complete -c molt -n "__fish_molt_using_subcommand help; and __fish_seen_subcommand_from pair" -f -a "code" -d 'Chat-platform pairing codes'
complete -c molt -n "__fish_molt_using_subcommand help; and __fish_seen_subcommand_from skills" -f -a "list" -d 'The installed skills: on or off, and whether the model is offered them (and why not)'
complete -c molt -n "__fish_molt_using_subcommand help; and __fish_seen_subcommand_from skills" -f -a "add" -d 'Install a skill from its folder (named as the skill) or a `.zip` of it'
complete -c molt -n "__fish_molt_using_subcommand help; and __fish_seen_subcommand_from skills" -f -a "remove" -d 'Remove an installed skill and its files'
complete -c molt -n "__fish_molt_using_subcommand help; and __fish_seen_subcommand_from skills" -f -a "enable" -d 'Offer an installed skill to the model again'
complete -c molt -n "__fish_molt_using_subcommand help; and __fish_seen_subcommand_from skills" -f -a "disable" -d 'Stop offering a skill to the model; it stays installed'
complete -c molt -n "__fish_molt_using_subcommand help; and __fish_seen_subcommand_from secrets" -f -a "list" -d 'Names of the local secrets, and whether the Worker has each (values are never shown)'
complete -c molt -n "__fish_molt_using_subcommand help; and __fish_seen_subcommand_from secrets" -f -a "get" -d 'Print one secret\'s value on stdout'
complete -c molt -n "__fish_molt_using_subcommand help; and __fish_seen_subcommand_from secrets" -f -a "set" -d 'Store a secret locally, its value read from stdin (or a hidden prompt)'
complete -c molt -n "__fish_molt_using_subcommand help; and __fish_seen_subcommand_from secrets" -f -a "push" -d 'Push every local secret the Worker lacks or that changed (`--all`: every one)'
complete -c molt -n "__fish_molt_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "rotate" -d 'Generate a new gateway token and push it to the Worker'
