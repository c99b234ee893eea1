# shellcheck shell=bash
# fpm_rig.sh - nginx + php-fpm as processes of the caller, configs in a temp dir,
# listening on 127.0.0.1 (a free port). Source it (bash); uses no system service.
#   fpm_rig_start DIR WWW -- PHP_D_ARGS...   start both; sets FPM_RIG_PORT, FPM_RIG_FPM_PID,
#                                            FPM_RIG_NGINX_PID (the masters)
#     FPM_RIG_CHILDREN (8), FPM_RIG_MAX_REQUESTS (0 = never recycle), FPM_RIG_NGINX_WORKERS (1)
#     FPM_RIG_ENV: "NAME=VALUE ..." passed to the PHP workers
#   fpm_rig_workers                          pids of the php-fpm workers
#   fpm_rig_stop                             SIGQUIT both (graceful), wait; status != 0 if one failed
# Needs nginx (nginx-light), php8.2-fpm. Runs as root too (-R; workers stay root).

fpm__free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

fpm_rig_start() {
	local dir=$1 www=$2 user_fpm="" user_nginx="" e
	shift 3 # DIR WWW --
	FPM_RIG_PORT=$(fpm__free_port)
	mkdir -p "$dir/nginx-tmp"
	if [[ $(id -u) == 0 ]]; then
		user_fpm=$'user = root\ngroup = root'
		user_nginx="user root;"
	fi
	{
		cat <<CONF
[global]
pid = $dir/fpm.pid
error_log = $dir/fpm.log
daemonize = no
process_control_timeout = 10s
[www]
$user_fpm
listen = $dir/fpm.sock
listen.backlog = 1024
pm = static
pm.max_children = ${FPM_RIG_CHILDREN:-8}
pm.max_requests = ${FPM_RIG_MAX_REQUESTS:-0}
catch_workers_output = yes
decorate_workers_output = no
clear_env = yes
CONF
		for e in ${FPM_RIG_ENV:-}; do echo "env[${e%%=*}] = ${e#*=}"; done
	} >"$dir/fpm.conf"
	cat >"$dir/nginx.conf" <<CONF
$user_nginx
daemon off;
worker_processes ${FPM_RIG_NGINX_WORKERS:-1};
pid $dir/nginx.pid;
error_log $dir/nginx.err warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $dir/nginx-tmp/body;
	proxy_temp_path $dir/nginx-tmp/proxy;
	fastcgi_temp_path $dir/nginx-tmp/fastcgi;
	uwsgi_temp_path $dir/nginx-tmp/uwsgi;
	scgi_temp_path $dir/nginx-tmp/scgi;
	server {
		listen 127.0.0.1:$FPM_RIG_PORT;
		root $www;
		location ~ \.php\$ {
			include /etc/nginx/fastcgi_params;
			fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
			fastcgi_pass unix:$dir/fpm.sock;
		}
	}
}
CONF
	php-fpm8.2 -n -R -F -y "$dir/fpm.conf" "$@" >>"$dir/fpm.out" 2>&1 &
	FPM_RIG_FPM_PID=$!
	nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/nginx.err" >>"$dir/nginx.out" 2>&1 &
	FPM_RIG_NGINX_PID=$!
	local i
	for ((i = 0; i < 200; i++)); do
		[[ -S $dir/fpm.sock ]] && [[ -s $dir/nginx.pid ]] &&
			(exec 3<>"/dev/tcp/127.0.0.1/$FPM_RIG_PORT") 2>/dev/null && return 0
		if ! kill -0 "$FPM_RIG_FPM_PID" 2>/dev/null || ! kill -0 "$FPM_RIG_NGINX_PID" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	echo "fpm_rig: nginx or php-fpm did not come up" >&2
	tail -5 "$dir/fpm.log" "$dir/fpm.out" "$dir/nginx.err" >&2 2>/dev/null
	return 1
}

fpm_rig_workers() {
	ps -o pid= --ppid "$FPM_RIG_FPM_PID" | tr -d ' '
}

fpm_rig_stop() {
	local st=0 s
	kill -QUIT "$FPM_RIG_NGINX_PID" 2>/dev/null || st=1
	kill -QUIT "$FPM_RIG_FPM_PID" 2>/dev/null || st=1
	wait "$FPM_RIG_NGINX_PID" || { s=$?; echo "fpm_rig: nginx exited $s" >&2; st=1; }
	wait "$FPM_RIG_FPM_PID" || { s=$?; echo "fpm_rig: php-fpm exited $s" >&2; st=1; }
	return $st
}
