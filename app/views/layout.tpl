<!doctype html>
<html lang="{{lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
% if defined('csrf'):
<meta name="csrf-token" content="{{csrf}}">
% end
<title>{{title}} · SynoChatGPT</title>
<link rel="icon" href="/static/icon.svg?v={{version}}" type="image/svg+xml">
<link rel="stylesheet" href="/static/app.css?v={{version}}">
<script src="/static/app.js?v={{version}}" defer></script>
</head>
<body>
<header class="top">
  <a class="brand" href="/"><img src="/static/icon.svg?v={{version}}" alt="" width="28" height="28"> SynoChatGPT</a>
  <nav class="langs" aria-label="{{t('language')}}">
  % for code in languages:
    % if code == lang:
    <strong lang="{{code}}">{{t.language_name(code)}}</strong>
    % else:
    <a href="{{path}}?lang={{code}}" lang="{{code}}" hreflang="{{code}}">{{t.language_name(code)}}</a>
    % end
  % end
  </nav>
  % if defined('logged_in') and logged_in:
  <form method="post" action="/logout" class="logout">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <button type="submit" class="link" id="logout">{{t('logout')}}</button>
  </form>
  % end
</header>
{{!base}}
<footer class="foot">SynoChatGPT {{version}}</footer>
</body>
</html>
