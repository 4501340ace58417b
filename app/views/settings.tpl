% rebase('layout.tpl', title=t('page_title'), logged_in=True)
<nav class="sections" aria-label="{{t('sections')}}">
  <a href="#status">{{t('sec_status')}}</a>
  <a href="#guide">{{t('sec_guide')}}</a>
  <a href="#settings">{{t('sec_settings')}}</a>
  <a href="#people">{{t('sec_people')}}</a>
  <a href="#webhooks">{{t('sec_webhooks')}}</a>
  <a href="#account">{{t('sec_account')}}</a>
</nav>
<main>
% # A save's result shows in the part of the page that was used (next to its button, which stays
% # in view); only the others (welcome) at the top.
% if message and message not in IN_PLACE:
<p class="alert ok" role="status" id="message">{{t('msg_' + message)}}</p>
% end
% if errors:
<div class="alert error" role="alert" id="error-summary">
  <p>{{t('fix_fields_count', count=len(errors))}}</p>
  <ul>
  % for name in errors:
    <li><a href="#field-{{name}}">{{t.label(settings.BY_NAME[name])}}</a></li>
  % end
  </ul>
</div>
% end

<section id="status" class="card">
  <h2>{{t('sec_status')}}</h2>
  <dl class="stats">
    <div><dt>{{t('st_version')}}</dt><dd id="st-version">{{status_info['version']}}</dd></div>
    <div><dt>{{t('st_uptime')}}</dt><dd id="st-uptime">{{status_info['uptime']}}</dd></div>
    <div><dt>{{t('st_queue')}}</dt><dd id="st-queue">{{status_info['queue']}}</dd></div>
    % if status_info['waiting_text']:
    <div><dt>{{t('st_waiting')}}</dt><dd class="bad" id="st-waiting">{{status_info['waiting_text']}}</dd></div>
    % end
    <div><dt>{{t('st_storage')}}</dt><dd class="{{'good' if status_info['storage']['ok'] else 'bad'}}" id="st-storage">{{status_info['storage_text']}}</dd></div>
    % latency = status_info['latency']
    <div><dt>{{t('st_latency')}}</dt><dd id="st-latency">{{t('st_latency_value', median=latency['median'], max=latency['max'], count=latency['count']) if latency['count'] else t('st_none_yet')}}</dd></div>
    <div><dt>{{t('st_model')}}</dt><dd class="{{'good' if status_info['model_ready'] else 'bad'}}" id="st-model">{{values.model if status_info['model_ready'] else t('st_not_set')}}</dd></div>
    <div><dt>{{t('st_bot')}}</dt><dd class="{{'good' if status_info['bot_ready'] and status_info['incoming_ready'] else 'bad'}}" id="st-bot">{{t('st_ready') if status_info['bot_ready'] and status_info['incoming_ready'] else t('st_not_set')}}</dd></div>
    <div><dt>{{t('st_qq')}}</dt><dd class="{{'good' if status_info['qq_ready'] else 'bad'}}" id="st-qq">{{t('st_ready') if status_info['qq_ready'] else t('st_not_set')}}</dd></div>
    <div><dt>{{t('st_dingtalk')}}</dt><dd class="{{'good' if status_info['dingtalk_ready'] else 'bad'}}" id="st-dingtalk">{{status_info['dingtalk_state']}}</dd></div>
  </dl>
  <h3>{{t('chart_title')}}</h3>
  % if chart_rows:
  <figure class="chart-box" id="usage-chart">{{!chart_svg}}{{!chart_legend}}</figure>
  <details>
    <summary>{{t('chart_table')}}</summary>
    <div class="scroll">
    <table class="numbers" id="usage-table">
      <thead><tr><th>{{t('user')}}</th>
      % for day in chart_days:
        <th>{{day[5:]}}</th>
      % end
      </tr></thead>
      <tbody>
      % for name, counts in chart_rows:
        <tr><th>{{name}}</th>
        % for value in counts:
          <td>{{value}}</td>
        % end
        </tr>
      % end
      </tbody>
    </table>
    </div>
  </details>
  % else:
  <p class="empty" id="usage-empty">{{t('chart_empty')}}</p>
  % end
  <h3>{{t('recent_errors')}}</h3>
  % if recent_errors:
  <div class="scroll">
  <table id="error-list">
    <thead><tr><th>{{t('time')}}</th><th>{{t('source')}}</th><th>{{t('what')}}</th></tr></thead>
    <tbody>
    % for e in recent_errors[:20]:
      % kind = error_kind(e.kind)
      <tr><td>{{fmt_time(e.at)}}</td><td>{{t('src_' + e.source)}}</td><td>
      % if kind:
        <strong>{{kind}}</strong>
      % end
        {{e.message}}</td></tr>
    % end
    </tbody>
  </table>
  </div>
  % else:
  <p class="empty" id="errors-empty">{{t('no_errors')}}</p>
  % end
</section>

<section id="guide" class="card">
  <h2>{{t('sec_guide')}}</h2>
  <p>{{t('guide_intro')}}</p>
  <div class="copy-row">
    <label for="outgoing-url">{{t('outgoing_url')}}</label>
    <div class="copy">
      <input id="outgoing-url" value="{{outgoing}}" readonly>
      <button type="button" class="copy-button" data-copy="outgoing-url">{{t('copy')}}</button>
    </div>
    <p class="help">{{t('outgoing_help')}}</p>
  </div>
  <ol class="steps">
    <li>{{t('guide_1')}}</li>
    <li>{{t('guide_2')}}</li>
    <li>{{t('guide_3')}}</li>
    <li>{{t('guide_4')}}</li>
    <li>{{t('guide_5')}}</li>
  </ol>
</section>

<form method="post" action="/settings" id="settings" class="card" novalidate autocomplete="off">
  <h2>{{t('sec_settings')}}</h2>
  <input type="hidden" name="csrf" value="{{csrf}}">
  % for group in groups:
  <fieldset id="group-{{group}}">
    <legend>{{t('g_' + group)}}</legend>
    % for item in [s for s in settings.SETTINGS if s.group == group]:
    %   include('field.tpl', item=item, value=values.values[item.name], fixed=item.name in values.fixed, error=errors.get(item.name), shown=submitted.get(item.name))
    % end
    % if group == 'model':
    <div class="check" id="model-check">
      <button type="button" id="test-model">{{t('test_model')}}</button>
      <span class="hint">{{t('test_model_help')}}</span>
      <div class="picker" id="model-picker-box" hidden>
        <label for="model-picker">{{t('pick_model')}}</label>
        <select id="model-picker"></select>
      </div>
      <div class="result" id="model-result" role="status" aria-live="polite"></div>
    </div>
    % elif group == 'chat':
    <div class="check" id="chat-check">
      <label for="test-user">{{t('test_user')}}</label>
      <div class="copy">
        <input id="test-user" name="user_id" inputmode="numeric" value="{{last_user}}" placeholder="4">
        <button type="button" id="test-chat">{{t('test_chat')}}</button>
      </div>
      <p class="help">{{t('test_user_help')}}</p>
      <div class="result" id="chat-result" role="status" aria-live="polite"></div>
    </div>
    % elif group == 'qq':
    <div class="check" id="qq-check">
      <div class="copy-row">
        <label for="onebot-url">{{t('qq_event_url')}}</label>
        <div class="copy">
          <input id="onebot-url" value="{{onebot_url}}" readonly>
          <button type="button" class="copy-button" data-copy="onebot-url">{{t('copy')}}</button>
        </div>
        <p class="help">{{t('qq_event_help')}}</p>
      </div>
      <ol class="steps" id="qq-guide">
        <li>{{t('qq_guide_1')}}</li>
        <li>{{t('qq_guide_2')}}</li>
        <li>{{t('qq_guide_3')}}</li>
        <li>{{t('qq_guide_4')}}</li>
        <li>{{t('qq_guide_5')}}</li>
      </ol>
      <p class="note" id="qq-warning">{{t('qq_warning')}}</p>
      <label for="qq-target">{{t('qq_test_target')}}</label>
      <div class="copy">
        <select id="qq-kind" name="qq_kind" aria-label="{{t('qq_test_target')}}">
          <option value="private">{{t('qq_private')}}</option>
          <option value="group">{{t('qq_group')}}</option>
        </select>
        <input id="qq-target" name="qq_target" inputmode="numeric" value="{{last_qq}}" placeholder="12345678">
        <button type="button" id="test-qq">{{t('qq_test_button')}}</button>
      </div>
      <p class="help">{{t('qq_test_help')}}</p>
      <div class="result" id="qq-result" role="status" aria-live="polite"></div>
    </div>
    % elif group == 'dingtalk':
    <div class="check" id="dingtalk-check">
      <p class="{{'good' if status_info['dingtalk_ready'] else 'bad'}}" id="dt-state" role="status">{{t('st_dingtalk')}}: {{status_info['dingtalk_state']}}</p>
      % if status_info['dingtalk_error']:
      <p class="note" id="dt-error">{{status_info['dingtalk_error']}}</p>
      % end
      <ol class="steps" id="dt-guide">
        <li>{{t('dt_guide_1')}}</li>
        <li>{{t('dt_guide_2')}}</li>
        <li>{{t('dt_guide_3')}}</li>
        <li>{{t('dt_guide_4')}}</li>
        <li>{{t('dt_guide_5')}}</li>
        <li>{{t('dt_guide_6')}}</li>
      </ol>
      <div class="copy-row">
        <label for="dingtalk-url">{{t('dt_callback_url')}}</label>
        <div class="copy">
          <input id="dingtalk-url" value="{{dingtalk_url}}" readonly>
          <button type="button" class="copy-button" data-copy="dingtalk-url">{{t('copy')}}</button>
        </div>
        <p class="help">{{t('dt_callback_help')}}</p>
      </div>
      <label for="dt-user">{{t('dt_test_user')}}</label>
      <div class="copy">
        <input id="dt-user" name="dt_user" value="" placeholder="manager4">
        <button type="button" id="test-dingtalk">{{t('dt_test_button')}}</button>
      </div>
      <p class="help">{{t('dt_test_help')}}</p>
      <div class="result" id="dt-result" role="status" aria-live="polite"></div>
    </div>
    % end
  </fieldset>
  % end
  <div class="actions"><button type="submit" class="primary" id="save">{{t('save')}}</button>
  % if message == 'saved':
    <span class="done" role="status" id="message">{{t('msg_saved')}}</span>
  % end
  % if prompt_warning:
    <p class="alert error" role="alert" id="prompt-warning">{{prompt_warning}}</p>
  % end
  </div>
</form>

<form method="post" action="/people#people" id="people" class="card" novalidate autocomplete="off">
  <h2>{{t('sec_people')}}</h2>
  <p class="help">{{t('people_help', daily=values.daily_tokens or t('no_limit'), monthly=values.monthly_tokens or t('no_limit'))}}</p>
  % if people_errors:
  <p class="alert error" role="alert" id="people-error">{{t('fix_fields_count', count=len(people_errors))}}</p>
  % end
  % if people:
  <input type="hidden" name="csrf" value="{{csrf}}">
  <input type="hidden" name="ids" value="{{','.join(str(p['user_id']) for p in people)}}">
  <div class="scroll">
  <table id="people-list">
    <thead><tr><th>{{t('user')}}</th><th>{{t('role')}}</th><th>{{t('used_today')}}</th><th>{{t('used_month')}}</th><th>{{t('pictures_today')}}</th><th>{{t('own_daily')}}</th><th>{{t('own_monthly')}}</th></tr></thead>
    <tbody>
    % for p in people:
      % uid = p['user_id']
      <tr id="person-{{uid}}"{{!' class="bad"' if uid in people_errors else ''}}>
        <td>{{p['username'] or '–'}} ({{t('person_web') if p['web'] else uid}})<br><small>{{fmt_time(p['seen'])}}</small></td>
        <td>{{t(p['role'])}}</td>
        <td class="num">{{p['today']}}</td>
        <td class="num">{{p['month']}}</td>
        <td class="num">{{p['pictures']}}</td>
        <td><input name="daily_tokens-{{uid}}" aria-label="{{t('own_daily')}} {{uid}}" inputmode="numeric" value="{{people_typed.get('daily_tokens-%s' % uid, '' if p['daily'] is None else p['daily'])}}" placeholder="{{t('general')}}"></td>
        <td><input name="monthly_tokens-{{uid}}" aria-label="{{t('own_monthly')}} {{uid}}" inputmode="numeric" value="{{people_typed.get('monthly_tokens-%s' % uid, '' if p['monthly'] is None else p['monthly'])}}" placeholder="{{t('general')}}"></td>
      </tr>
      % if uid in people_errors:
      <tr><td colspan="7" class="field-error" id="people-error-{{uid}}">{{people_errors[uid]}}</td></tr>
      % end
    % end
    </tbody>
  </table>
  </div>
  <div class="actions"><button type="submit" id="save-people">{{t('save_quotas')}}</button>
  % if message == 'people_saved':
    <span class="done" role="status" id="message">{{t('msg_people_saved')}}</span>
  % end
  </div>
  % else:
  <p class="empty" id="people-empty">{{t('people_empty')}}</p>
  % end
</form>

<section id="webhooks" class="card">
  <h2>{{t('sec_webhooks')}}</h2>
  <p class="help">{{t('webhooks_help')}}</p>
  <button type="button" id="refresh-webhooks">{{t('refresh')}}</button>
  <div class="scroll">
  <table id="webhook-list">
    <thead><tr><th>{{t('time')}}</th><th>{{t('from')}}</th><th>{{t('user')}}</th><th>{{t('result')}}</th></tr></thead>
    <tbody>
    % for w in webhooks:
      <tr class="wh-{{w.outcome}}">
        <td>{{fmt_time(w.at)}}</td><td>{{w.client}}</td>
        <td>{{('%s (%s)' % (w.username, sender_of(w))) if w.user_id is not None else '–'}}</td>
        % detail = webhook_detail(w, t)
        <td>{{w.status}} · {{t('wh_' + w.reason)}}{{(' — ' + detail) if detail else ''}}</td>
      </tr>
    % end
    % if not webhooks:
      <tr class="empty"><td colspan="4">{{t('no_webhooks')}}</td></tr>
    % end
    </tbody>
  </table>
  </div>
</section>

<section id="account" class="card">
  <h2>{{t('sec_account')}}</h2>
  % if message == 'password_changed':
  <p class="alert ok" role="status" id="message">{{t('msg_password_changed')}}</p>
  % end
  % if 'admin_password' in values.fixed:
  <p class="note" id="password-fixed">{{t('pw_fixed')}}</p>
  % else:
  % if password_error:
  <p class="alert error" role="alert" id="password-error">{{t(password_error, wait=0)}}</p>
  % end
  <form method="post" action="/password#account" class="stack">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <input type="text" name="username" value="admin" autocomplete="username" hidden>
    <label for="current">{{t('current_password')}}</label>
    <input id="current" name="current" type="password" required autocomplete="current-password">
    <label for="new-password">{{t('new_password')}}</label>
    <input id="new-password" name="password" type="password" required minlength="8" autocomplete="new-password">
    <label for="confirm">{{t('confirm_password')}}</label>
    <input id="confirm" name="confirm" type="password" required minlength="8" autocomplete="new-password">
    <button type="submit" id="change-password">{{t('change_password')}}</button>
  </form>
  % end
</section>
</main>
<script type="application/json" id="texts">{{!t.script_texts()}}</script>
