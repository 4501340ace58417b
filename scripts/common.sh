# Shared by the seven DSM lifecycle scripts (sourced, not run). POSIX sh: DSM runs them with
# its /bin/sh, as the package user (conf/privilege: run-as package).

PKG_NAME="SynoChatGPT"
PY311="/var/packages/python311/target/bin/python3"   # SynoCommunity's python311 package
VENV="${SYNOPKG_PKGDEST}/env"
WHEELHOUSE="${SYNOPKG_PKGDEST}/wheelhouse"
DATA_DIR="${SYNOPKG_PKGVAR}/data"
LOG_FILE="${SYNOPKG_PKGVAR}/synochatgpt.log"
PID_FILE="${SYNOPKG_PKGVAR}/synochatgpt.pid"
PORT="${SYNOPKG_PKGPORT:-8008}"
LOG_LIMIT=1048576   # bytes; the log is rotated at start beyond this

# say KEY [DETAIL]: a message in the DSM user's language, shown by Package Center (through
# SYNOPKG_TEMP_LOGFILE) and kept in the package's log.
say() {
    case "${SYNOPKG_DSM_LANGUAGE:-enu}" in
        chs) lang=chs ;;
        cht) lang=cht ;;
        *) lang=enu ;;
    esac
    case "$1.$lang" in
        python_missing.enu) text="SynoChatGPT needs the Python 3.11 package (python311) from SynoCommunity. In Package Center > Settings > Package Sources add https://packages.synocommunity.com, install Python 3.11, then install SynoChatGPT again." ;;
        python_missing.chs) text="SynoChatGPT 需要 SynoCommunity 的 Python 3.11 套件（python311）。请在“套件中心 > 设置 > 套件来源”中添加 https://packages.synocommunity.com，安装 Python 3.11 后再安装 SynoChatGPT。" ;;
        python_missing.cht) text="SynoChatGPT 需要 SynoCommunity 的 Python 3.11 套件（python311）。請在「套件中心 > 設定 > 套件來源」中新增 https://packages.synocommunity.com，安裝 Python 3.11 後再安裝 SynoChatGPT。" ;;
        python_wrong.enu) text="The python311 package does not run Python 3.11 ($2). Reinstall Python 3.11 from SynoCommunity." ;;
        python_wrong.chs) text="python311 套件运行的不是 Python 3.11（$2）。请从 SynoCommunity 重新安装 Python 3.11。" ;;
        python_wrong.cht) text="python311 套件執行的不是 Python 3.11（$2）。請從 SynoCommunity 重新安裝 Python 3.11。" ;;
        install_failed.enu) text="SynoChatGPT could not install its Python libraries ($2). Details are in $LOG_FILE." ;;
        install_failed.chs) text="SynoChatGPT 无法安装其 Python 库（$2）。详情见 $LOG_FILE。" ;;
        install_failed.cht) text="SynoChatGPT 無法安裝其 Python 函式庫（$2）。詳情見 $LOG_FILE。" ;;
        not_saved.enu) text="The wizard's value for $2 was not saved: $3 Set it on the settings page." ;;
        not_saved.chs) text="安装向导中的 $2 未保存：$3 请在设置页面中设置。" ;;
        not_saved.cht) text="安裝精靈中的 $2 未儲存：$3 請在設定頁面中設定。" ;;
        not_installed.enu) text="SynoChatGPT is not installed completely. Repair or reinstall it in Package Center." ;;
        not_installed.chs) text="SynoChatGPT 未完整安装，请在套件中心修复或重新安装。" ;;
        not_installed.cht) text="SynoChatGPT 未完整安裝，請在套件中心修復或重新安裝。" ;;
        start_failed.enu) text="SynoChatGPT stopped right after starting: $2 (log: $LOG_FILE)" ;;
        start_failed.chs) text="SynoChatGPT 启动后立即停止：$2（日志：$LOG_FILE）" ;;
        start_failed.cht) text="SynoChatGPT 啟動後立即停止：$2（日誌：$LOG_FILE）" ;;
        *) text="$1 $2" ;;
    esac
    if [ -n "${SYNOPKG_TEMP_LOGFILE:-}" ]; then
        printf '%s\n' "$text" >> "$SYNOPKG_TEMP_LOGFILE"
    fi
    log "$text"
}

log() {
    if [ -d "${SYNOPKG_PKGVAR:-/nonexistent}" ]; then
        printf '%s %s\n' "$(date '+%Y-%m-%d %H:%M:%S')" "$*" >> "$LOG_FILE"
    fi
    printf '%s\n' "$*" >&2
}

# check_python: is SynoCommunity's Python 3.11 there? The bundled wheels are built for cp311.
check_python() {
    if [ ! -x "$PY311" ]; then
        say python_missing
        return 1
    fi
    found=$("$PY311" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>&1)
    if [ "$found" != "3.11" ]; then
        say python_wrong "$found"
        return 1
    fi
    return 0
}

running() {
    [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}
