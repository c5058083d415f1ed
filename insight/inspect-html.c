/* lade — `lade inspect --html`: one self-contained page (see include/lade/inspect.h). The
 * tables are static HTML (readable without the script); the treemap is drawn as inline SVG
 * by the inline script from the report embedded as JSON. Nothing is loaded from anywhere. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lade/inspect.h"
#include "lade/util.h"

static void esc(struct lade_buf *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<':
			lade_buf_adds(out, "&lt;");
			break;
		case '>':
			lade_buf_adds(out, "&gt;");
			break;
		case '&':
			lade_buf_adds(out, "&amp;");
			break;
		case '"':
			lade_buf_adds(out, "&quot;");
			break;
		default:
			lade_buf_addch(out, *s);
		}
	}
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static const char *hs(const json_t *o, const char *key, char *buf, size_t len)
{
	const json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? lade_human_size((uint64_t)json_integer_value(v), buf, len)
	                          : "-";
}

static const char *const style =
        "body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0 1.5em}"
        "td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}"
        "td.n{text-align:right;font-variant-numeric:tabular-nums}"
        "code{font-size:12px}#crumbs{margin:.5em 0}#crumbs a{cursor:pointer;color:#06c}"
        "#map{width:100%;height:560px;border:1px solid #999}#map text{pointer-events:none;"
        "font-size:11px}#map rect{stroke:#fff;stroke-width:1;cursor:pointer}"
        "button{margin-right:.5em}";

/* Squarified treemap (Bruls et al.) into the SVG; click zooms in, the crumbs zoom out. */
static const char *const script =
        "var D=JSON.parse(document.getElementById('data').textContent),cur=0,path=[];"
        "function hs(n){var u=['B','KiB','MiB','GiB','TiB'],i=0;while(n>=1024&&i<4){n/=1024;"
        "i++}return(i?n.toFixed(1):n)+' '+u[i]}"
        "function worst(r,w,s){var mx=0,mn=1/0,t=0;r.forEach(function(x){t+=x.a;mx=Math.max("
        "mx,x.a);mn=Math.min(mn,x.a)});return Math.max(w*w*mx/(t*t),t*t/(w*w*mn))}"
        "function layout(items,x,y,w,h,out){var rest=items.slice();while(rest.length){var "
        "side=Math.min(w,h),row=[rest.shift()];while(rest.length&&worst(row.concat([rest[0]])"
        ",side)<=worst(row,side))row.push(rest.shift());var t=0;row.forEach(function(r){t+="
        "r.a});var d=t/side,o=0;row.forEach(function(r){var l=r.a/d;if(w>=h)out.push({n:r.n,"
        "x:x,y:y+o,w:d,h:l});else out.push({n:r.n,x:x+o,y:y,w:l,h:d});o+=l});if(w>=h){x+=d;"
        "w-=d}else{y+=d;h-=d}}}"
        "var NS='http://www.w3.org/2000/svg';function el(k,a){var e=document."
        "createElementNS(NS,k);for(var x in a)e.setAttribute(x,a[x]);return e}"
        "function box(svg,kids,X,Y,W,H,hue0,depth,chain){var tot=0;kids=kids.filter("
        "function(c){return c.v>0});kids.forEach(function(c){tot+=c.v});var out=[];"
        "layout(kids.map(function(c){return{n:c,a:c.v*W*H/(tot||1)}}),X,Y,W,H,out);"
        "out.forEach(function(r,i){var n=r.n,h=n.k=='l'?(n.i*67)%360:hue0,g=el('g',{}),"
        "e=el('rect',{x:r.x,y:r.y,width:Math.max(r.w,0),height:Math.max(r.h,0),fill:'hsl('+h"
        "+',55%,'+(40+depth*15+(i%3)*5)+'%)'}),t=el('title',{});t.textContent=n.n+' \u2014 '"
        "+hs(n.v);e.appendChild(t);var to=chain.concat([n]);if(n.c)e.onclick=function(ev){"
        "ev.stopPropagation();path=path.concat(to);draw()};g.appendChild(e);if(r.w>60&&r.h>"
        "14){var x=el('text',{x:r.x+3,y:r.y+12});x.textContent=(n.n.length>r.w/6.5?n.n.slice("
        "0,Math.floor(r.w/6.5)-1)+'\u2026':n.n)+(r.h>28&&!(n.c&&depth<1)?'':'  '+hs(n.v));g."
        "appendChild(x);if(r.h>28&&!(n.c&&depth<1)){var y=el('text',{x:r.x+3,y:r.y+25});y."
        "textContent=hs(n.v);g.appendChild(y)}}svg.appendChild(g);if(n.c&&depth<1&&r.w>40&&"
        "r.h>40)box(svg,n.c,r.x+3,r.y+16,r.w-6,r.h-19,h,depth+1,to)})}"
        "function draw(){var root=path.length?path[path.length-1]:D.images[cur].treemap,"
        "svg=document.getElementById('map'),W=svg.clientWidth||1000,H=svg.clientHeight||560;"
        "while(svg.firstChild)svg.removeChild(svg.firstChild);box(svg,root.c||[],0,0,W,H,"
        "root.k=='l'?(root.i*67)%360:210,0,[]);var c=document.getElementById('crumbs');c."
        "innerHTML='';var all=[D.images[cur].treemap].concat(path);all.forEach(function(n,i){"
        "var a=document.createElement('a');a.textContent=(i?n.n:(D.images[cur].ref||'image'))"
        "+' ('+hs(n.v)+')';a.onclick=function(){path=path.slice(0,i);draw()};c.appendChild(a)"
        ";if(i<all.length-1)c.appendChild(document.createTextNode(' \u203a '))})}"
        "function pick(i){cur=i;path=[];draw()}"
        "window.addEventListener('resize',draw);draw();";

static void layer_table(const json_t *im, struct lade_buf *out)
{
	char b1[32], b2[32];
	lade_buf_adds(out, "<table><tr><th>#</th><th>compressed</th><th>unpacked</th>"
	                   "<th>digest</th><th>created by</th></tr>\n");
	size_t k;
	const json_t *l;
	json_array_foreach(json_object_get(im, "layers"), k, l)
	{
		lade_buf_addf(out,
		              "<tr><td class=n>%zu</td><td class=n>%s</td><td class=n>%s</td>"
		              "<td><code>",
		              k + 1, hs(l, "size", b1, sizeof(b1)),
		              hs(l, "uncompressed_size", b2, sizeof(b2)));
		esc(out, str(l, "digest"));
		lade_buf_adds(out, "</code></td><td>");
		esc(out, str(l, "created_by"));
		if (json_object_get(l, "comment")) {
			lade_buf_adds(out, " ");
			esc(out, str(l, "comment"));
		}
		lade_buf_adds(out, "</td></tr>\n");
	}
	lade_buf_adds(out, "</table>\n");
}

static void image_section(const json_t *im, struct lade_buf *out)
{
	char b1[32], b2[32];
	lade_buf_adds(out, "<h2>");
	esc(out, json_object_get(im, "ref") ? str(im, "ref") : "(untagged)");
	lade_buf_addf(out, "</h2>\n<p>%s compressed, %s unpacked, platform ",
	              hs(im, "size", b1, sizeof(b1)), hs(im, "uncompressed_size", b2, sizeof(b2)));
	esc(out, str(im, "platform"));
	lade_buf_adds(out, ", manifest <code>");
	esc(out, str(im, "digest"));
	lade_buf_adds(out, "</code></p>\n<h3>Layers</h3>\n");
	layer_table(im, out);
	size_t k;
	const json_t *p;
	if (json_array_size(json_object_get(im, "packages"))) {
		lade_buf_adds(out, "<h3>Python distributions (installed bytes, from RECORD)</h3>\n"
		                   "<table><tr><th>name</th><th>version</th><th>bytes</th>"
		                   "<th>files</th><th>location</th></tr>\n");
		json_array_foreach(json_object_get(im, "packages"), k, p)
		{
			lade_buf_adds(out, "<tr><td>");
			esc(out, str(p, "name"));
			lade_buf_adds(out, "</td><td>");
			esc(out, str(p, "version"));
			lade_buf_addf(out,
			              "</td><td class=n>%s</td><td class=n>%" JSON_INTEGER_FORMAT
			              "</td><td>/",
			              hs(p, "bytes", b1, sizeof(b1)),
			              json_integer_value(json_object_get(p, "files")));
			esc(out, str(p, "location"));
			lade_buf_adds(out, "</td></tr>\n");
		}
		lade_buf_adds(out, "</table>\n");
	}
	if (json_array_size(json_object_get(im, "top"))) {
		lade_buf_adds(out, "<h3>Biggest files</h3>\n<table><tr><th>bytes</th><th>path</th>"
		                   "</tr>\n");
		json_array_foreach(json_object_get(im, "top"), k, p)
		{
			lade_buf_addf(out, "<tr><td class=n>%s</td><td>/",
			              hs(p, "size", b1, sizeof(b1)));
			esc(out, str(p, "path"));
			lade_buf_adds(out, "</td></tr>\n");
		}
		lade_buf_adds(out, "</table>\n");
	}
}

/* Several images (variants): the bytes each has alone and shares, and the shared layers. */
static void shared_section(const json_t *report, struct lade_buf *out)
{
	const json_t *imgs = json_object_get(report, "images"), *im, *l;
	char b1[32], b2[32];
	lade_buf_addf(out,
	              "<h2>What the %zu images share</h2>\n<p>%s of blobs in total, %s "
	              "shared by more than one image.</p>\n<table><tr><th>ref</th>"
	              "<th>unique</th><th>shared</th></tr>\n",
	              json_array_size(imgs), hs(report, "total_bytes", b1, sizeof(b1)),
	              hs(report, "shared_bytes", b2, sizeof(b2)));
	size_t i, k;
	json_array_foreach(imgs, i, im)
	{
		lade_buf_adds(out, "<tr><td>");
		esc(out, str(im, "ref"));
		lade_buf_addf(out, "</td><td class=n>%s</td><td class=n>%s</td></tr>\n",
		              hs(im, "unique_bytes", b1, sizeof(b1)),
		              hs(im, "shared_bytes", b2, sizeof(b2)));
	}
	lade_buf_adds(out, "</table>\n<table><tr><th>shared layer</th><th>compressed</th>"
	                   "<th>created by</th><th>in</th></tr>\n");
	_cleanup_(json_decrefp) json_t *users = json_object(); /* digest -> [ref] */
	_cleanup_(json_decrefp) json_t *first = json_object(); /* digest -> layer */
	json_array_foreach(imgs, i, im) json_array_foreach(json_object_get(im, "layers"), k, l)
	{
		const char *d = str(l, "digest");
		json_t *u = json_object_get(users, d);
		if (u == NULL) {
			u = json_array();
			json_object_set_new(users, d, u);
			json_object_set(first, d, (json_t *)l);
		}
		const char *ref = json_object_get(im, "ref") ? str(im, "ref") : "(untagged)";
		size_t n = json_array_size(u);
		if (n == 0 || strcmp(json_string_value(json_array_get(u, n - 1)), ref) != 0)
			json_array_append_new(u, json_string(ref));
	}
	const char *d;
	json_t *u;
	json_object_foreach(users, d, u)
	{
		if (json_array_size(u) < 2)
			continue;
		l = json_object_get(first, d);
		lade_buf_adds(out, "<tr><td><code>");
		esc(out, d);
		lade_buf_addf(out, "</code></td><td class=n>%s</td><td>",
		              hs(l, "size", b1, sizeof(b1)));
		esc(out, json_object_get(l, "comment") ? str(l, "comment") : str(l, "created_by"));
		lade_buf_adds(out, "</td><td>");
		json_array_foreach(u, k, im)
		{
			if (k)
				lade_buf_adds(out, ", ");
			esc(out, json_string_value(im));
		}
		lade_buf_adds(out, "</td></tr>\n");
	}
	lade_buf_adds(out, "</table>\n");
}

void lade_inspect_html(const json_t *report, struct lade_buf *out)
{
	const json_t *imgs = json_object_get(report, "images"), *im;
	lade_buf_adds(out, "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>\n<title>lade "
	                   "inspect ");
	esc(out, str(report, "image"));
	lade_buf_addf(out, "</title>\n<style>%s</style></head><body>\n<h1>", style);
	esc(out, str(report, "image"));
	lade_buf_adds(out, "</h1>\n");
	size_t i;
	if (json_array_size(imgs) > 1) {
		lade_buf_adds(out, "<p>");
		json_array_foreach(imgs, i, im)
		{
			lade_buf_addf(out, "<button onclick=\"pick(%zu)\">", i);
			esc(out, json_object_get(im, "ref") ? str(im, "ref") : "(untagged)");
			lade_buf_adds(out, "</button>");
		}
		lade_buf_adds(out, "</p>\n");
	}
	lade_buf_adds(out, "<p>Treemap: layer → Python distribution or directory → file, area = "
	                   "bytes unpacked. Click to zoom in, the path above to zoom out.</p>\n"
	                   "<div id=crumbs></div>\n<svg id=map "
	                   "xmlns=\"http://www.w3.org/2000/svg\"></svg>\n");
	json_array_foreach(imgs, i, im) image_section(im, out);
	if (json_array_size(imgs) > 1)
		shared_section(report, out);
	/* The data, with every '<' escaped so that nothing in a file name ends the script. */
	lade_buf_adds(out, "<script type=\"application/json\" id=data>");
	char *j = json_dumps(report, JSON_COMPACT | JSON_SORT_KEYS);
	for (const char *p = j; p && *p; p++) {
		if (*p == '<')
			lade_buf_adds(out, "\\u003c");
		else
			lade_buf_addch(out, *p);
	}
	free(j);
	lade_buf_addf(out, "</script>\n<script>%s</script>\n</body></html>\n", script);
}
