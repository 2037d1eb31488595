# Documents for the clean tests, written for them. Sourced after lib.sh.

# English prose of about 120 words that passes every Gopher, C4 and FineWeb rule.
good_english="The package manager keeps track of every file that it installs on the system. When a new version of a program becomes available, it downloads the archive, checks the signature and replaces the old files in one step.\nUsers rarely need to think about the libraries that a program depends on, because the manager resolves those dependencies before it changes anything. If two packages claim the same file, the manager refuses to continue and explains the conflict.\nConfiguration files are treated with more care than programs. A file that the administrator has edited is never overwritten without asking, and the new default version is saved beside it so that the changes can be compared later. This is why upgrades of a stable release are usually quiet and safe."

# Chinese prose of about 300 characters on the same subject.
good_chinese="软件包管理器会记录它在系统中安装的每一个文件。当某个程序有了新版本时，它会下载软件包，检查签名，然后一步完成旧文件的替换。\n用户很少需要关心程序依赖哪些库，因为管理器在修改任何内容之前就已经解决了这些依赖关系。如果两个软件包声称拥有同一个文件，管理器会拒绝继续，并说明冲突的原因。\n配置文件比程序受到更谨慎的对待。管理员修改过的文件不会在未经询问的情况下被覆盖，新的默认版本会保存在旁边，以便以后比较两者的差异。这就是稳定版本的升级通常平静而安全的原因。"

# doc ID TEXT [URL]: one JSON Lines document (TEXT may contain \n escapes).
doc() {
    if [ $# -ge 3 ]; then
        printf '{"id":"%s","text":"%s","source":"test","url":"%s"}\n' "$1" "$2" "$3"
    else
        printf '{"id":"%s","text":"%s","source":"test"}\n' "$1" "$2"
    fi
}

# stat_of FILE KEY: the number after "KEY": in a stats JSON file, or 0.
stat_of() {
    python3 -c 'import json,sys
s = json.load(open(sys.argv[1]))
v = s["dropped_by_reason"].get(sys.argv[2], s["counters"].get(sys.argv[2], s.get(sys.argv[2], 0)))
print(v)' "$1" "$2"
}

# expect_stat FILE KEY VALUE
expect_stat() {
    local value
    value=$(stat_of "$1" "$2")
    [ "$value" = "$3" ] || { cat "$1" >&2; fail "$2 is $value in $1, expected $3"; }
}
